package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// ErrClosed is returned by calls made after Close.
var ErrClosed = errors.New("client: closed")

// CloseError is returned by a call that was out on a socket when it
// closed: the call may or may not have run.
type CloseError struct {
	Code   int // the close code; 1006 when the connection broke without one
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("client: the socket closed (%d %s) before the answer came", e.Code, e.Reason)
}

// Subprotocol is what a socket offers (followed by its token) and what the
// server must echo.
const subprotocol = "jsonrpc_2.0"

// Close codes a socket tells apart.
const (
	closeSignedOut = 4000 // the server revoked the socket's auth
	closeAbnormal  = 1006 // no close frame: the connection broke
)

// stableAfter is how long a socket must stay up for the next reconnect to
// start the backoff over: a server that accepts and at once drops the
// socket is reconnected to ever more slowly.
const stableAfter = 2 * time.Second

// socket keeps one WebSocket to the server open and sends calls over it.
type socket struct {
	c       *Client
	url     string
	ctx     context.Context // ends on Close
	cancel  context.CancelFunc
	stopped chan struct{} // run returned
	nextID  atomic.Uint64

	mu      sync.Mutex
	cur     *conn         // nil while down
	ready   chan struct{} // closed once cur is set
	closing bool
}

func newSocket(c *Client, url string) *socket {
	ctx, cancel := context.WithCancel(context.Background())
	s := &socket{c: c, url: url, ctx: ctx, cancel: cancel, stopped: make(chan struct{}), ready: make(chan struct{})}
	go s.run()
	return s
}

// run connects, serves the connection until it closes, and reconnects,
// until Close.
func (s *socket) run() {
	defer close(s.stopped)
	fails := 0
	for s.ctx.Err() == nil {
		cn, err := s.dial()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			s.c.log.InfoContext(s.ctx, "client: connect", "url", s.url, "err", err)
			s.sleep(fails)
			fails++
			continue
		}
		if !s.up(cn) {
			_ = cn.ws.CloseNow()
			continue // SetToken while it dialled: dial again with the new one
		}
		began := time.Now()
		cn.serve()
		s.down(cn)
		if cn.replaced.Load() {
			fails = 0
			continue // SetToken: reconnect at once
		}
		if time.Since(began) >= stableAfter {
			fails = 0
		}
		s.sleep(fails)
		fails++
	}
}

func (s *socket) sleep(fails int) {
	select {
	case <-s.c.opts.After(s.c.opts.Reconnect.delay(fails)):
	case <-s.ctx.Done():
	}
}

// dial opens a socket with the client's current token.
func (s *socket) dial() (*conn, error) {
	o := s.c.opts
	token := s.c.Token()
	protocols := []string{subprotocol}
	if token != "" {
		protocols = append(protocols, token)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	ws, res, err := websocket.Dial(ctx, s.url, &websocket.DialOptions{
		HTTPClient:   o.HTTPClient,
		HTTPHeader:   o.Header.Clone(),
		Subprotocols: protocols,
	})
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("client: upgrade answered HTTP %d: %w", res.StatusCode, err)
		}
		return nil, fmt.Errorf("client: dial: %w", err)
	}
	if ws.Subprotocol() != subprotocol {
		_ = ws.Close(websocket.StatusProtocolError, "subprotocol "+subprotocol+" expected")
		return nil, fmt.Errorf("client: the server chose the subprotocol %q, not %q", ws.Subprotocol(), subprotocol)
	}
	ws.SetReadLimit(o.MaxMessageBytes)
	return &conn{s: s, ws: ws, token: token, pending: map[uint64]chan *message{}, closed: make(chan struct{})}, nil
}

// up makes cn the socket calls go over, and tells the server which events
// the client wants. It reports false, and leaves cn out, when the token
// changed while cn was dialled.
func (s *socket) up(cn *conn) bool {
	s.mu.Lock()
	// SetToken stores the token before it takes s.mu to drop the socket:
	// either this sees the new token, or SetToken sees cn and drops it.
	if cn.token != s.c.Token() {
		s.mu.Unlock()
		return false
	}
	s.cur = cn
	close(s.ready)
	s.mu.Unlock()
	s.c.log.DebugContext(s.ctx, "client: connected", "url", s.url)
	if names := s.c.events.names(); len(names) > 0 {
		go cn.send(s.ctx, "/subscribe", []any{names})
	}
	s.c.events.deliver(Event{Name: EventConnect})
	return true
}

// down takes cn out of use after it closed.
func (s *socket) down(cn *conn) {
	s.mu.Lock()
	if s.cur == cn {
		s.cur = nil
		s.ready = make(chan struct{})
	}
	s.mu.Unlock()
	code, reason := cn.err.Code, cn.err.Reason
	s.c.log.DebugContext(s.ctx, "client: disconnected", "url", s.url, "code", code, "reason", reason)
	codeJSON, _ := json.Marshal(code)
	reasonJSON, _ := json.Marshal(reason)
	s.c.events.deliver(Event{Name: EventDisconnect, Args: []json.RawMessage{codeJSON, reasonJSON}})
	if code == closeSignedOut {
		s.c.events.deliver(Event{Name: EventSignout})
	}
}

// conn waits until the socket is up and returns its connection.
func (s *socket) conn(ctx context.Context) (*conn, error) {
	for {
		s.mu.Lock()
		cn, ready, closing := s.cur, s.ready, s.closing
		s.mu.Unlock()
		switch {
		case closing:
			return nil, ErrClosed
		case cn != nil:
			return cn, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("client: waiting for the socket: %w", ctx.Err())
		case <-s.ctx.Done():
			return nil, ErrClosed
		}
	}
}

func (s *socket) call(ctx context.Context, method string, params []any, void bool) (*Result, error) {
	cn, err := s.conn(ctx)
	if err != nil {
		return nil, err
	}
	if void {
		return nil, cn.send(ctx, method, params)
	}
	m, err := cn.request(ctx, method, params)
	if err != nil {
		return nil, err
	}
	return m.answer(method)
}

func (s *socket) ping(ctx context.Context) error {
	cn, err := s.conn(ctx)
	if err != nil {
		return err
	}
	m, err := cn.request(ctx, "/ping", nil)
	if err != nil {
		return err
	}
	if m.Method != "/pong" {
		_, err = m.answer("/ping")
	}
	return err
}

func (s *socket) subscribe(name string, on bool) {
	s.mu.Lock()
	cn := s.cur
	s.mu.Unlock()
	if cn == nil {
		return // up subscribes to every name when the socket connects
	}
	method := "/unsubscribe"
	if on {
		method = "/subscribe"
	}
	go cn.send(s.ctx, method, []any{[]string{name}})
}

// tokenChanged drops the socket, so that the next one is authenticated
// with the new token; calls wait for it.
func (s *socket) tokenChanged() {
	s.mu.Lock()
	cn := s.cur
	if cn != nil {
		s.cur = nil
		s.ready = make(chan struct{})
	}
	s.mu.Unlock()
	if cn != nil {
		cn.replaced.Store(true)
		go func() { _ = cn.ws.Close(websocket.StatusNormalClosure, "token changed") }()
	}
}

func (s *socket) close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	cn := s.cur
	s.mu.Unlock()
	var err error
	if cn != nil {
		err = cn.ws.Close(websocket.StatusNormalClosure, "")
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	}
	s.cancel()
	<-s.stopped
	return err
}

// conn is one open WebSocket.
type conn struct {
	s        *socket
	ws       *websocket.Conn
	token    string      // the token it was opened with
	replaced atomic.Bool // closed by SetToken

	mu      sync.Mutex
	pending map[uint64]chan *message // calls waiting for their answer, by id
	closed  chan struct{}            // closed with err set once the socket closed
	err     *CloseError
}

// serve reads messages until the socket closes, then fails the calls out.
func (cn *conn) serve() {
	stop := make(chan struct{})
	defer close(stop)
	if d := cn.s.c.opts.PingInterval; d > 0 {
		go cn.keepAlive(d, stop)
	}
	var err error
	for {
		var typ websocket.MessageType
		var b []byte
		if typ, b, err = cn.ws.Read(cn.s.ctx); err != nil {
			break
		}
		cn.handle(typ, b)
	}
	_ = cn.ws.CloseNow()
	ce := &CloseError{Code: int(websocket.CloseStatus(err))}
	var wce websocket.CloseError
	switch {
	case errors.As(err, &wce):
		ce.Reason = wce.Reason
	case strings.Contains(err.Error(), "read limited at"):
		// coder/websocket closed it with 1009 itself; its error is untyped.
		ce.Code, ce.Reason = int(websocket.StatusMessageTooBig), err.Error()
	default:
		ce.Code, ce.Reason = closeAbnormal, err.Error()
	}
	cn.mu.Lock()
	cn.err = ce
	cn.pending = nil
	close(cn.closed)
	cn.mu.Unlock()
}

// keepAlive pings the server every d and drops the socket when a ping is
// not answered within d.
func (cn *conn) keepAlive(d time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(cn.s.ctx, d)
		err := cn.ws.Ping(ctx)
		cancel()
		if err != nil {
			cn.s.c.log.InfoContext(cn.s.ctx, "client: the server did not answer a ping", "url", cn.s.url, "err", err)
			_ = cn.ws.CloseNow()
			return
		}
	}
}

// handle acts on one message from the server: an answer, an event, or a
// ping.
func (cn *conn) handle(typ websocket.MessageType, b []byte) {
	enc := JSON
	if typ == websocket.MessageBinary {
		enc = MessagePack
	}
	js, err := enc.decode(b)
	var m message
	if err == nil {
		err = json.Unmarshal(js, &m)
	}
	if err != nil {
		cn.s.c.log.InfoContext(cn.s.ctx, "client: a message from the server is not JSON-RPC", "url", cn.s.url, "err", err)
		return
	}
	switch m.Method {
	case "":
		cn.answered(&m)
	case "/pong":
		cn.answered(&m) // the answer to a /ping
	case "/ping":
		if len(m.ID) > 0 {
			cn.reply(enc, m.ID, `"method":"/pong"`)
		}
	case "/event", "/publish":
		cn.event(&m)
	default:
		if len(m.ID) > 0 {
			cn.reply(enc, m.ID, `"error":{"code":-32809,"message":"Method not found","data":{"exception":false,"meta":{}}}`)
		}
	}
}

func (cn *conn) answered(m *message) {
	id, err := strconv.ParseUint(string(m.ID), 10, 64)
	if err != nil {
		return // not an id of ours
	}
	cn.mu.Lock()
	ch := cn.pending[id]
	delete(cn.pending, id)
	cn.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

func (cn *conn) event(m *message) {
	var params []json.RawMessage
	if err := json.Unmarshal(m.Params, &params); err != nil || len(params) == 0 {
		return
	}
	var name string
	if err := json.Unmarshal(params[0], &name); err != nil || name == "" || isLocal(name) {
		return
	}
	cn.s.c.events.deliver(Event{Name: name, Args: params[1:]})
}

// reply answers the server's request id with the rest of a message.
func (cn *conn) reply(enc Encoding, id json.RawMessage, rest string) {
	b, err := enc.encode([]byte(`{"jsonrpc":"2.0","id":` + string(id) + `,` + rest + `}`))
	if err == nil {
		err = cn.write(cn.s.ctx, enc, b)
	}
	if err != nil {
		cn.s.c.log.DebugContext(cn.s.ctx, "client: reply to the server", "err", err)
	}
}

// send sends a call without an id: a void call, which has no answer.
func (cn *conn) send(ctx context.Context, method string, params []any) error {
	enc := cn.s.c.opts.Encoding
	b, err := encodeRequest(enc, method, params, 0)
	if err != nil {
		return err
	}
	if err := cn.write(ctx, enc, b); err != nil {
		return fmt.Errorf("client: %s: %w", method, err)
	}
	return nil
}

// request sends a call and waits for its answer.
func (cn *conn) request(ctx context.Context, method string, params []any) (*message, error) {
	enc := cn.s.c.opts.Encoding
	id := cn.s.nextID.Add(1)
	b, err := encodeRequest(enc, method, params, id)
	if err != nil {
		return nil, err
	}
	ch := make(chan *message, 1)
	cn.mu.Lock()
	if cn.pending == nil {
		cn.mu.Unlock()
		<-cn.closed
		return nil, fmt.Errorf("client: %s: %w", method, cn.err)
	}
	cn.pending[id] = ch
	cn.mu.Unlock()
	forget := func() {
		cn.mu.Lock()
		delete(cn.pending, id)
		cn.mu.Unlock()
	}
	if err := cn.write(ctx, enc, b); err != nil {
		forget()
		return nil, fmt.Errorf("client: %s: %w", method, err)
	}
	select {
	case m := <-ch:
		return m, nil
	case <-cn.closed:
		select {
		case m := <-ch: // answered just before the close
			return m, nil
		default:
		}
		return nil, fmt.Errorf("client: %s: %w", method, cn.err)
	case <-ctx.Done():
		forget()
		return nil, fmt.Errorf("client: %s: %w", method, ctx.Err())
	}
}

func (cn *conn) write(ctx context.Context, enc Encoding, b []byte) error {
	typ := websocket.MessageText
	if enc == MessagePack {
		typ = websocket.MessageBinary
	}
	return cn.ws.Write(ctx, typ, b)
}
