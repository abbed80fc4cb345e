package wsconn

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"syscall"
)

// Options configure a connection Upgrade makes.
type Options struct {
	// Subprotocol is echoed in the handshake's answer when not empty.
	Subprotocol string
	// OriginPatterns are host patterns (path.Match, against the Origin's
	// host, or its scheme://host when a pattern has "://") of the pages
	// that may connect besides the request's own host. A request without
	// Origin (not a browser) is always let in.
	OriginPatterns []string
	// OnPong is called, on the reading goroutine, with every pong the
	// client sends.
	OnPong func()
}

// Upgrade answers a WebSocket handshake and takes the connection over. A
// request that is not a valid handshake is answered 400 (426 without the
// upgrade headers), a foreign origin 403; the error says why.
func Upgrade(w http.ResponseWriter, r *http.Request, opts Options) (*Conn, error) {
	key, status, err := checkHandshake(r)
	if err == nil {
		if err = checkOrigin(r, opts.OriginPatterns); err != nil {
			status = http.StatusForbidden
		}
	}
	if err != nil {
		if status == http.StatusUpgradeRequired || status == http.StatusBadRequest {
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		http.Error(w, err.Error(), status)
		return nil, err
	}
	h := w.Header()
	h.Set("Upgrade", "websocket")
	h.Set("Connection", "Upgrade")
	h.Set("Sec-WebSocket-Accept", acceptKey(key))
	if opts.Subprotocol != "" {
		h.Set("Sec-WebSocket-Protocol", opts.Subprotocol)
	}
	w.WriteHeader(http.StatusSwitchingProtocols)
	// The answer is flushed by Hijack, before it returns.
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("wsconn: hijack: %w", err)
	}
	c := &Conn{nc: nc, onPong: opts.OnPong}
	if sc, ok := nc.(syscall.Conn); ok {
		c.rc, _ = sc.SyscallConn()
	}
	if n := brw.Reader.Buffered(); n > 0 {
		// Frames the client sent right behind its handshake; the rest of
		// the server's buffers is let go.
		b, _ := brw.Reader.Peek(n)
		c.pending = append([]byte(nil), b...)
	}
	return c, nil
}

// checkHandshake returns the client's key, or the status and error that
// refuse the request.
func checkHandshake(r *http.Request) (string, int, error) {
	if r.Method != http.MethodGet {
		return "", http.StatusMethodNotAllowed, fmt.Errorf("websocket: a handshake is a GET, not %s", r.Method)
	}
	if !r.ProtoAtLeast(1, 1) {
		return "", http.StatusUpgradeRequired, fmt.Errorf("websocket: a handshake is HTTP/1.1 at least, not %s", r.Proto)
	}
	if !hasToken(r.Header, "Connection", "upgrade") || !hasToken(r.Header, "Upgrade", "websocket") {
		return "", http.StatusUpgradeRequired, errors.New("websocket: a handshake has Connection: Upgrade and Upgrade: websocket")
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		return "", http.StatusBadRequest, fmt.Errorf("websocket: version %q: only 13 is spoken", v)
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return "", http.StatusBadRequest, errors.New("websocket: a handshake has one Sec-WebSocket-Key")
	}
	key := strings.TrimSpace(keys[0])
	if b, err := base64.StdEncoding.DecodeString(key); err != nil || len(b) != 16 {
		return "", http.StatusBadRequest, fmt.Errorf("websocket: Sec-WebSocket-Key %q is not 16 bytes in base64", key)
	}
	return key, 0, nil
}

func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// checkOrigin lets in a request without Origin, from its own host, or from
// a page patterns allow.
func checkOrigin(r *http.Request, patterns []string) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil {
		return fmt.Errorf("websocket: Origin %q is not a URL", origin)
	}
	if strings.EqualFold(r.Host, u.Host) {
		return nil
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(target)); err == nil && ok {
			return nil
		}
	}
	return fmt.Errorf("websocket: pages of %q may not connect to %q", u.Host, r.Host)
}

// acceptKey is the Sec-WebSocket-Accept of a client's key.
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}
