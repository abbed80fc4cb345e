package rpc

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ServeHTTP serves the method named by the request path (or by a JSON-RPC
// request object in the body). It reads the request and hands the call to
// the pipeline that every transport shares (see exchange.run); a GET with
// Upgrade: websocket at the mount root opens a WebSocket instead.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	path, mounted := r.methodPath(req.URL.Path)
	if r.servedCORS(w, req) {
		return // a preflight
	}
	if mounted && (path == "/" || path == "") && !r.opts.WebSocket.Disabled && isUpgrade(req) {
		r.serveWebSocket(w, req)
		return
	}
	hx := &httpExchange{exchange: exchange{r: r, start: r.clock.Now()}, replier: httpReplier{w: w}}
	x := &hx.exchange
	x.w = &hx.replier
	ctx := req.Context()
	if hooks := r.hooks.Load(); hooks != nil {
		ctx = x.startHooks(ctx, hooks, CallStart{
			Transport:   TransportHTTP,
			TraceParent: headerValue(req.Header, "Traceparent"),
			TraceState:  headerValue(req.Header, "Tracestate"),
		})
	}
	if req.Method != http.MethodPost && req.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		x.fail(Errorf(CodeMethodNotAllowed, "HTTP method %s is not allowed: POST the parameters, or GET a method that takes none", req.Method))
		return
	}
	var pathMethod *method // the method the path names
	if mounted {
		pathMethod = r.lookup(path)
	}
	x.m = pathMethod
	c := call{clientAddr: r.clientAddr(req), userAgent: req.Header.Get("User-Agent")}
	buf, ok := hx.readRequest(req, &c)
	if buf != nil {
		defer putBuffer(buf) // the raw parameters point into it until decoded
	}
	if !ok {
		return
	}
	var bodyLen int64
	if buf != nil {
		bodyLen = int64(buf.Len())
	}
	m, e := r.resolveMethod(path, mounted, pathMethod, &c.body)
	if e != nil {
		if id := reservedName(path, mounted, &c.body); id != "" && x.reserved(ctx, id) {
			return
		}
		x.fail(e)
		return
	}
	x.m = m
	if m != pathMethod && m.MaxBodyBytes > 0 && bodyLen > m.MaxBodyBytes {
		// Read at the mount root within the registry's limit; the method
		// named in the body may allow less.
		w.Header().Set("Connection", "close")
		x.fail(Errorf(CodeTooLarge, "request body is larger than %d bytes", m.MaxBodyBytes))
		return
	}
	x.run(ctx, &c)
}

// httpExchange is the call of an HTTP request on its way to an answer: the
// exchange and the replier that answers the request, in one allocation.
type httpExchange struct {
	exchange
	replier httpReplier
}

// httpReplier answers an HTTP request: in JSON, or in MessagePack for a
// request whose body was.
type httpReplier struct {
	w       http.ResponseWriter
	msgpack bool
}

// invalidTokenChallenge answers a call whose bearer token did not
// authenticate (malformed, unknown, expired, revoked or disabled).
const invalidTokenChallenge = `Bearer error="invalid_token"`

// Header values shared by every answer; net/http only reads them.
var (
	jsonContentType    = []string{"application/json"}
	msgpackContentType = []string{ContentTypeMsgpack}
	noStore            = []string{"no-store"}
)

// msgpackFailed answers, in JSON, a request whose answer did not convert to
// MessagePack.
var msgpackFailed = []byte(`{"jsonrpc":"2.0","error":{"code":500,"message":"Internal Server Error","data":{"exception":true,"meta":{}}}}`)

func (h *httpReplier) reply(rp reply) {
	hd := h.w.Header()
	if rp.retryAfter > 0 {
		secs := (rp.retryAfter + time.Second - 1) / time.Second
		hd.Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	}
	if rp.badToken {
		// RFC 6750: the client is to get a new token, which a guest's
		// -32801 alone does not tell it.
		hd.Set("WWW-Authenticate", invalidTokenChallenge)
	}
	hd["Cache-Control"] = noStore
	body, ct := rp.body, jsonContentType
	if h.msgpack {
		out := bufferPool.Get().(*bytes.Buffer)
		defer putBuffer(out)
		if err := appendMsgpack(out, rp.body); err != nil {
			hd["Content-Type"] = jsonContentType
			h.w.WriteHeader(http.StatusInternalServerError)
			_, _ = h.w.Write(msgpackFailed)
			return
		}
		body, ct = out.Bytes(), msgpackContentType
	}
	hd["Content-Type"] = ct
	h.w.WriteHeader(rp.status)
	_, _ = h.w.Write(body)
}

// readRequest reads what a request carries into c: its bearer token, whether
// it asks for a void call, and nothing more for a GET; the parameters of a
// JSON or MessagePack body (which the answer then comes in), or a reader of
// an upload. It returns the body's buffer, which the parameters point into
// until they are decoded. On a fault it answers and reports false.
func (hx *httpExchange) readRequest(req *http.Request, c *call) (buf *bytes.Buffer, ok bool) {
	r, x, w := hx.r, &hx.exchange, hx.replier.w
	c.token = bearerToken(headerValue(req.Header, "Authorization"))
	c.void = isTrue(headerValue(req.Header, canonicalVoidCall)) || isTrue(headerValue(req.Header, canonicalVoidCallAlt))
	if req.Method == http.MethodGet {
		if req.URL.RawQuery != "" {
			x.fail(BadRequest("a GET takes no query string: POST the parameters as a JSON array"))
			return nil, false
		}
		return nil, true
	}
	switch ct := mediaType(headerValue(req.Header, "Content-Type")); {
	case ct == "" || strings.EqualFold(ct, "application/json"), strings.EqualFold(ct, ContentTypeMsgpack):
		isMsgpack := strings.EqualFold(ct, ContentTypeMsgpack)
		hx.replier.msgpack = isMsgpack
		limit := r.opts.MaxBodyBytes
		if x.m != nil && x.m.MaxBodyBytes > 0 {
			limit = x.m.MaxBodyBytes
		}
		buf, e := r.readBody(w, req, limit, r.bodyTimeout(x.m))
		if e != nil {
			x.fail(e)
			return nil, false
		}
		// The parameters of the method the path names may be decoded as the
		// body is split, into the handler's arguments.
		x.pre = predecode(x.m, x.args[:])
		var in body
		if isMsgpack {
			// Its JSON is held to the same limit as a JSON body.
			in, e = parseMsgpackBodyInto(buf.Bytes(), limit, x.raws[:0], &x.pre)
		} else {
			in, e = parseBodyInto(buf.Bytes(), x.raws[:0], &x.pre)
		}
		x.rpcID = in.id
		if e != nil {
			x.fail(e)
			return buf, false
		}
		c.body = in
		return buf, true
	case strings.EqualFold(ct, "multipart/form-data"):
		c.upload = func(m *method) ([]json.RawMessage, *Upload, *Error) {
			if m.MaxUploadBytes <= 0 {
				return nil, nil, Errorf(CodeUnsupportedMediaType, "method %s takes no upload: send application/json", m.ID)
			}
			return r.readMultipart(w, req, m, c.clientAddr)
		}
		return nil, true
	default:
		x.fail(Errorf(CodeUnsupportedMediaType, "unsupported content type %q: send application/json, application/msgpack, or multipart/form-data to an upload method", ct))
		return nil, false
	}
}

// resolveMethod returns the method a request calls. The path names it;
// only at the mount root ("/" below the prefix) may a JSON-RPC request
// object name it instead, so that rules a proxy or the registry applies by
// path (per-method body limits) hold for every call. Elsewhere a request
// object names the path's method or none.
func (r *Registry) resolveMethod(path string, mounted bool, pathMethod *method, in *body) (*method, *Error) {
	atRoot := mounted && path == "/"
	switch {
	case !in.request || !atRoot && in.method == "":
		if pathMethod == nil {
			return nil, Errorf(CodeMethodNotFound, "method %s not found", Quote(path))
		}
		return pathMethod, nil
	case atRoot:
		if in.method == "" {
			return nil, Errorf(CodeMethodNotFound, "a JSON-RPC request object at the mount root names its method")
		}
		m := r.lookup(in.method)
		if m == nil {
			return nil, Errorf(CodeMethodNotFound, "method %s not found", Quote(in.method))
		}
		return m, nil
	case pathMethod == nil:
		return nil, Errorf(CodeMethodNotFound, "method %s not found", Quote(path))
	case in.method != pathMethod.ID:
		return nil, Errorf(CodeMethodNotFound, "the request object names method %s, but the path names %s: post a request object to the mount root",
			Quote(in.method), Quote(pathMethod.ID))
	}
	return pathMethod, nil
}

// methodPath returns the method id a request path names: the path below
// Options.Prefix. mounted is false for a path outside the prefix.
func (r *Registry) methodPath(path string) (id string, mounted bool) {
	if r.opts.Prefix == "" {
		return path, true
	}
	if rest, ok := strings.CutPrefix(path, r.opts.Prefix); ok && (rest == "" || rest[0] == '/') {
		if rest == "" {
			rest = "/"
		}
		return rest, true
	}
	return path, false
}

// headerValue is h.Get(key) for a key already in canonical form.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func bearerToken(h string) string {
	const prefix = "Bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):])
	}
	return ""
}

func isTrue(v string) bool {
	return v != "" && (v == "true" || v == "1" || strings.EqualFold(v, "true"))
}

// mediaType returns the type of a Content-Type value, without parameters.
func mediaType(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}
