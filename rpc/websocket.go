package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc/internal/wsconn"
)

// Subprotocol is the WebSocket subprotocol of the wire format. A client
// offers it first, and may offer its bearer token second.
const Subprotocol = "jsonrpc_2.0"

// Close codes the server sends.
const (
	// CloseSignedOut closes the sockets of a session or token that was
	// invalidated (signed out, disabled, deleted, or its user changed).
	CloseSignedOut websocket.StatusCode = 4000

	// CloseTooSlow closes a socket that fell MaxQueuedEvents events behind:
	// its client does not read what the server sends as fast as it comes.
	// The client may reconnect (and catch up from its own state); the
	// server keeps no more than that bound for any one socket. Counted in
	// Registry.Refusals as EventQueue.
	CloseTooSlow websocket.StatusCode = 4001
)

// WebSocketOptions configure the WebSocket transport at the mount root. The
// zero value is ready to use.
type WebSocketOptions struct {
	// Disabled turns the transport off: an upgrade is then served as an
	// ordinary HTTP request to the mount root.
	Disabled bool

	// MaxSockets bounds the sockets open at once; past it an upgrade
	// answers 503. Default: 10,000.
	MaxSockets int

	// MaxSocketsPerAddr bounds the sockets one client address (an IPv6
	// /64; see Options.TrustedProxyHeader) holds open at once; past it that
	// address's upgrade answers 503 while others are still let in, so one
	// address cannot take every socket. Default: MaxSockets/50, at least 1
	// (200 of the default 10,000): room for an office or a carrier's NAT,
	// while it takes 50 addresses to fill the server.
	MaxSocketsPerAddr int

	// MaxCallsInFlight bounds the calls of one socket that run at once;
	// past it the socket reads no further message until one ends
	// (backpressure). Default: 16.
	MaxCallsInFlight int

	// MaxMessagesPerSecond bounds the rate at which one socket's messages
	// are read, with a burst of as many: past it the socket waits before it
	// reads on (backpressure), so that one client flooding messages cannot
	// take the server from the others. Default: 1,000.
	MaxMessagesPerSecond int

	// MaxMessageBytes bounds a message from the client; a bigger one closes
	// the socket with 1009. Default: Options.MaxBodyBytes.
	MaxMessageBytes int64

	// PingInterval is how long a socket goes between protocol pings from
	// the server; PingTimeout is how long the client has to answer one
	// before the socket is closed as dead. A socket's first ping comes
	// within PingInterval of its opening, at a point that spreads the
	// sockets opened together over the interval, and each stays on its
	// own cycle; no goroutine waits for a pong. Defaults: 30 and 15 seconds.
	PingInterval time.Duration
	PingTimeout  time.Duration

	// WriteTimeout bounds writing one reply; a socket that takes longer is
	// closed. (A stalled event write is found by the pings.) Default: 10 seconds.
	WriteTimeout time.Duration

	// MaxQueuedEvents bounds the events waiting to be written to one socket;
	// a socket that falls further behind is closed with CloseTooSlow (4001),
	// so that one slow client holds neither memory nor the others' events.
	// Default: 256.
	MaxQueuedEvents int

	// MaxSubscriptions bounds the event names one socket may subscribe to
	// (the 6.x client's /subscribe), and MaxEventNameBytes the length of
	// each: a name past either is not subscribed, and is counted in
	// Registry.Refusals; a /subscribe with an id answers 400. Defaults: 128
	// names of 128 bytes, at most about 20 KiB a socket, less than an idle
	// socket costs by itself, for an application's own names (tens, short).
	MaxSubscriptions  int
	MaxEventNameBytes int

	// AllowedOrigins lists host patterns (path.Match, matched against the
	// Origin's host, or against scheme://host when a pattern has "://") of
	// pages that may open a socket besides those of the request's own host.
	// A request without Origin (not a browser) is always let in. Default:
	// none, the same host only.
	AllowedOrigins []string

	// OnEvent receives the events clients send: /event (4.x client) and
	// /publish (6.x) with [name, ...args]. ctx carries the socket's caller
	// (auth.FromContext). It runs on the socket's goroutine for the message,
	// within MaxCallsInFlight. Default: nil, events from clients are dropped.
	OnEvent func(ctx context.Context, name string, args []json.RawMessage)
}

func (o WebSocketOptions) withDefaults(maxBody int64) WebSocketOptions {
	if o.MaxSockets <= 0 {
		o.MaxSockets = 10_000
	}
	if o.MaxSocketsPerAddr <= 0 {
		o.MaxSocketsPerAddr = max(o.MaxSockets/50, 1)
	}
	if o.MaxCallsInFlight <= 0 {
		o.MaxCallsInFlight = 16
	}
	if o.MaxMessagesPerSecond <= 0 {
		o.MaxMessagesPerSecond = 1000
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = maxBody
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 30 * time.Second
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 15 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.MaxQueuedEvents <= 0 {
		o.MaxQueuedEvents = 256
	}
	if o.MaxSubscriptions <= 0 {
		o.MaxSubscriptions = 128
	}
	if o.MaxEventNameBytes <= 0 {
		o.MaxEventNameBytes = 128
	}
	return o
}

func isUpgrade(req *http.Request) bool {
	return req.Method == http.MethodGet && headerHasToken(req.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// subprotocols returns the items a client offered, split on commas and trimmed.
func subprotocols(h http.Header) []string {
	var list []string
	for _, v := range h.Values("Sec-Websocket-Protocol") {
		for t := range strings.SplitSeq(v, ",") {
			list = append(list, strings.TrimSpace(t))
		}
	}
	return list
}

// serveWebSocket upgrades a request at the mount root and serves the socket
// until it closes.
func (r *Registry) serveWebSocket(w http.ResponseWriter, req *http.Request) {
	o := &r.opts.WebSocket
	protos := subprotocols(req.Header)
	if len(protos) == 0 || protos[0] != Subprotocol {
		http.Error(w, "websocket: offer the subprotocol "+Subprotocol+" first", http.StatusBadRequest)
		return
	}
	var token string
	if len(protos) > 1 {
		token = protos[1]
	}
	addr := r.clientAddr(req)
	addrKey := auth.AddrKey(addr)
	if ok, perAddr := r.hub.reserve(addrKey); !ok {
		r.refused.sockets.Add(1)
		msg := "websocket: too many open sockets"
		if perAddr {
			msg += " from your address"
		}
		w.Header().Set("Retry-After", "5")
		http.Error(w, msg, http.StatusServiceUnavailable)
		return
	}
	s := &socket{
		r:          r,
		token:      token,
		clientAddr: addr,
		userAgent:  req.Header.Get("User-Agent"),
		addrKey:    addrKey,
		slots:      make(chan struct{}, o.MaxCallsInFlight),
	}
	conn, err := wsconn.Upgrade(w, req, wsconn.Options{
		Subprotocol:    Subprotocol,
		OriginPatterns: o.AllowedOrigins,
		OnPong:         s.pong,
	})
	if err != nil {
		// Upgrade has answered (403 for a foreign origin).
		r.hub.unreserve(addrKey)
		r.log.DebugContext(req.Context(), "rpc: websocket upgrade refused", "err", err)
		return
	}
	s.conn = conn
	// The socket outlives nothing of the request but its address, its
	// User-Agent and the values of its context (a principal the host's
	// middleware put there).
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(req.Context()))
	r.hub.open(s.ctx, s)
	// A goroutine of its own that only reads, not the request's: its stack
	// stays small while it waits for the client.
	go s.run()
}

// socket is an open WebSocket.
type socket struct {
	r          *Registry
	conn       *wsconn.Conn
	ctx        context.Context // ends when the socket closes
	cancel     context.CancelFunc
	token      string
	clientAddr string
	userAgent  string
	addrKey    string

	principal *auth.Principal // as of the upgrade; set before the socket joins the hub
	groups    []string

	binary atomic.Bool   // the last frame the client sent was binary
	subs   subscriptions // the 6.x client's

	slots chan struct{} // calls in flight

	pingTimer Timer                 // pings, then times the pong out (see ping)
	awaiting  atomic.Bool           // a ping is not answered yet
	closer    atomic.Pointer[Timer] // ends a closing socket whose client does not answer the close
	expiry    Timer                 // closes the socket when its session runs out
	inflight  atomic.Int32          // messages being handled
	// drained is set when the socket starts closing; it is closed once
	// no message is being handled (see close).
	drained     atomic.Pointer[chan struct{}]
	drainedShut atomic.Bool

	outMu   sync.Mutex // guards out and writing
	out     []*event
	writing bool
}

// run serves the socket until it closes, then lets it go.
func (s *socket) run() {
	h := s.r.hub
	defer h.unreserve(s.addrKey)
	defer h.remove(s)
	defer s.kill()
	s.serve()
}

// kill ends the socket at once, without a close handshake: its calls'
// context, and the connection.
func (s *socket) kill() {
	s.cancel()
	s.conn.CloseNow()
	if t := s.closer.Load(); t != nil {
		(*t).Stop()
	}
}

// serve reads messages until the socket closes, each in a goroutine of its
// own, at most MaxCallsInFlight at once.
func (s *socket) serve() {
	o := &s.r.opts.WebSocket
	// Set before it can fire: ping resets it.
	s.pingTimer = s.r.clock.AfterFunc(time.Hour, s.ping)
	s.pingTimer.Reset(s.r.hub.firstPing())
	defer s.pingTimer.Stop()
	rate := newBucket(o.MaxMessagesPerSecond, s.r.clock)
	for {
		if !rate.wait(s.ctx) {
			return
		}
		if !s.takeSlot() {
			return
		}
		typ, data, err := s.read()
		if errors.Is(err, errTooLarge) {
			<-s.slots
			continue // closing: read on, so that the client's close is seen
		}
		if err != nil {
			<-s.slots
			return
		}
		// Any message shows the client alive, as a pong does.
		s.awaiting.Store(false)
		s.binary.Store(typ == wsconn.OpBinary) // in the order the frames came

		if s.closing() {
			<-s.slots
			continue // read on, so that the client's close is seen
		}
		s.inflight.Add(1)
		go func() {
			defer func() { <-s.slots }()
			defer s.endMessage()
			s.handle(typ == wsconn.OpBinary, data)
		}()
	}
}

// takeSlot takes a slot for a call, waiting while MaxCallsInFlight run;
// false when the socket ends meanwhile. The context's Done channel is made
// only for a socket that had to wait: an idle socket holds none.
func (s *socket) takeSlot() bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	select {
	case s.slots <- struct{}{}:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// read reads the next message into a buffer that grows as readBody's
// does, never past MaxMessageBytes: a message of the limit costs about
// twice its bytes to read, where io.ReadAll's growth would cost five
// times. A bigger message closes the socket with 1009.
func (s *socket) read() (wsconn.Opcode, []byte, error) {
	typ, rd, err := s.conn.NextMessage()
	if err != nil {
		return 0, nil, err
	}
	var buf bytes.Buffer
	limit := s.r.opts.WebSocket.MaxMessageBytes
	if err := readLimited(&buf, rd, limit); err != nil {
		if errors.Is(err, errTooLarge) {
			s.close(websocket.StatusMessageTooBig, fmt.Sprintf("read limited at %d bytes", limit))
		}
		return 0, nil, err
	}
	return typ, buf.Bytes(), nil
}

// firstPing is when a new socket is first pinged: within PingInterval,
// at a point of a low-discrepancy sequence (the golden ratio's multiples),
// so that sockets that opened together are pinged spread over the
// interval, and stay so, each on its own cycle.
func (h *hub) firstPing() time.Duration {
	const phi = 0x9E3779B97F4A7C15 // 2^64 / the golden ratio
	frac := float64(h.pings.Add(phi)) / (1 << 64)
	interval := h.r.opts.WebSocket.PingInterval
	return max(interval-time.Duration(frac*float64(interval)), 1)
}

// ping runs when the socket's ping timer fires: it pings, and sets the
// timer to PingTimeout, by which the pong must have come (pong sets it to
// the next ping), or it finds the last ping unanswered and ends the socket
// as dead. No goroutine waits for the pong.
func (s *socket) ping() {
	o := &s.r.opts.WebSocket
	if s.closing() {
		return
	}
	if len(s.slots) == cap(s.slots) {
		// Not reading (backpressure), so a pong could not be read either;
		// the socket is busy, not dead.
		s.awaiting.Store(false)
		s.pingTimer.Reset(o.PingInterval)
		return
	}
	if s.awaiting.Load() {
		s.kill()
		return
	}
	s.awaiting.Store(true)
	s.pingTimer.Reset(o.PingTimeout)
	// Behind a write under way (a stalled one holds the socket's writer),
	// the ping goes after it: a writer stalled for PingTimeout ends the
	// socket, as a silent client does.
	s.conn.Ping()
}

// pong is the client's answer to a ping: the next ping is set.
func (s *socket) pong() {
	if s.awaiting.CompareAndSwap(true, false) && !s.closing() {
		s.pingTimer.Reset(s.r.opts.WebSocket.PingInterval)
	}
}

// closeTimeout is how long a closing socket waits for its client to
// answer the close frame (or for a stalled write to let it be sent).
const closeTimeout = 5 * time.Second

// closeGrace is how long a closing socket waits for the answers of the
// calls in flight, such as the signout that closes it.
const closeGrace = 500 * time.Millisecond

// close closes the socket with code and reason, on a goroutine of its own:
// after the calls in flight answered (within closeGrace), so that the call
// that revoked the socket's own session gets its answer. It reports
// whether it closes the socket: false when it was closing already.
func (s *socket) close(code websocket.StatusCode, reason string) bool {
	drained := make(chan struct{})
	if !s.drained.CompareAndSwap(nil, &drained) {
		return false // closing already
	}
	go func() {
		if s.inflight.Load() > 0 {
			grace := s.r.clock.AfterFunc(closeGrace, s.shutDrained)
			<-drained
			grace.Stop()
		}
		closer := s.r.clock.AfterFunc(closeTimeout, s.kill)
		s.closer.Store(&closer)
		if err := s.conn.Close(int(code), reason); err != nil {
			s.kill()
		}
		// The socket's reader sees the client's answer, and ends it.
	}()
	return true
}

// closing reports whether the socket is closing.
func (s *socket) closing() bool { return s.drained.Load() != nil }

// endMessage counts a message handled; the last one in flight on a closing
// socket lets the close go on.
func (s *socket) endMessage() {
	if s.inflight.Add(-1) == 0 && s.closing() {
		s.shutDrained()
	}
}

// shutDrained closes drained, once.
func (s *socket) shutDrained() {
	if p := s.drained.Load(); p != nil && s.drainedShut.CompareAndSwap(false, true) {
		close(*p)
	}
}

// frame is a message from the client.
type frame struct {
	JSONRPC string          `json:"jsonrpc"`
	Method  *string         `json:"method"`
	Params  json.RawMessage `json:"params"`
	ID      json.RawMessage `json:"id"`
	// The W3C trace context of a call, as HTTP carries it in the headers
	// of these names: members beside the request's (a client that sends
	// none is unchanged, and one that sends them to a server that does not
	// read them is ignored there). Raw, so that a member that is not a
	// string is ignored as any other unknown member is, not refused.
	TraceParent json.RawMessage `json:"traceparent"`
	TraceState  json.RawMessage `json:"tracestate"`
}

// jsonString returns the string a raw JSON value holds, or "" when it is
// not a string.
func jsonString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// handle serves one message: a call, a void call, or one of the messages
// of the socket itself (ping, pong, events, subscriptions).
func (s *socket) handle(binary bool, data []byte) {
	if binary {
		j, err := msgpackToJSON(data, s.r.opts.WebSocket.MaxMessageBytes)
		if errors.Is(err, errMsgpackBudget) {
			s.reply(binary, nil, Errorf(CodeTooLarge, "message is larger than %d bytes once converted to JSON", s.r.opts.WebSocket.MaxMessageBytes))
			return
		}
		if err != nil {
			s.reply(binary, nil, Errorf(CodeParseError, "message is not valid MessagePack: %s", err))
			return
		}
		data = j
	} else if !utf8.Valid(data) {
		s.reply(binary, nil, NewError(CodeParseError, "message is not valid UTF-8"))
		return
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		s.reply(binary, nil, parseError(err))
		return
	}
	if f.Method == nil {
		return // an answer of the client's, to nothing the server asks
	}
	if bytes.Equal(f.ID, []byte("null")) {
		f.ID = nil
	}
	in, e := frameBody(*f.Method, f.Params, f.ID)
	if e != nil {
		s.reply(binary, in.id, e) // an id that is not one is not echoed
		return
	}
	switch in.method {
	case MethodPing:
		if f.ID != nil {
			s.send(binary, append(append([]byte(`{"jsonrpc":"2.0","id":`), f.ID...), `,"method":"/pong"}`...))
		}
		return
	case MethodPong:
		return
	case methodSubscribe, methodUnsubscribe:
		s.replyVoid(binary, f.ID, s.subscribe(in.method == methodSubscribe, f.Params))
		return
	case methodEvent, methodPublish:
		if in.paramsErr == nil {
			s.clientEvent(in.raws)
		}
		s.replyVoid(binary, f.ID, in.paramsErr)
		return
	}
	sx := &socketExchange{exchange: exchange{r: s.r, start: s.r.clock.Now(), rpcID: in.id}, replier: socketReplier{s: s, binary: binary}}
	x := &sx.exchange
	x.w = &sx.replier
	ctx := s.ctx
	if hooks := s.r.hooks.Load(); hooks != nil {
		ctx = x.startHooks(ctx, hooks, CallStart{
			Transport:   TransportWebSocket,
			TraceParent: jsonString(f.TraceParent),
			TraceState:  jsonString(f.TraceState),
		})
	}
	if x.m = s.r.lookup(in.method); x.m == nil {
		if !x.reserved(ctx, in.method) {
			x.fail(Errorf(CodeMethodNotFound, "method %s not found", Quote(in.method)))
		}
	} else {
		x.run(ctx, &call{
			body:       in,
			token:      s.token,
			clientAddr: s.clientAddr,
			userAgent:  s.userAgent,
			void:       f.ID == nil,
			noUploads:  true,
		})
	}
	sx.replier.flush(f.ID != nil) // a message without an id gets no answer
}

// socketExchange is the call of a message on its way to an answer: the
// exchange and the replier that answers on the socket, in one allocation.
type socketExchange struct {
	exchange
	replier socketReplier
}

// socketReplier holds a call's answer until the call is over, and its record
// observed, as HTTP's is before the response leaves the handler; flush then
// sends it. It sends the JSON the pipeline wrote, or, for a message that
// came in binary, that JSON converted to MessagePack.
type socketReplier struct {
	s      *socket
	binary bool
	msg    *bytes.Buffer // the answer held, from bufferPool; nil for none
}

func (sr *socketReplier) reply(rp reply) {
	if sr.msg == nil {
		sr.msg = bufferPool.Get().(*bytes.Buffer)
	}
	sr.msg.Reset()
	if !sr.binary {
		sr.msg.Write(rp.body) // rp.body is the pool's again once reply returns
		return
	}
	if err := appendMsgpack(sr.msg, rp.body); err != nil {
		sr.s.r.log.ErrorContext(sr.s.ctx, "rpc: websocket: encode MessagePack", "err", err)
		putBuffer(sr.msg)
		sr.msg = nil
	}
}

// flush sends the answer held, if send and there is one, and lets it go.
func (sr *socketReplier) flush(send bool) {
	if sr.msg == nil {
		return
	}
	if send {
		sr.s.write(sr.msg.Bytes(), sr.binary)
	}
	putBuffer(sr.msg)
	sr.msg = nil
}

// reply sends an error answer found before a call was made.
func (s *socket) reply(binary bool, id json.RawMessage, e *Error) {
	sr := socketReplier{s: s, binary: binary}
	s.r.writeError(&sr, id, e, false)
	sr.flush(true)
}

// replyVoid answers a message of the socket's own that has an id: e, or
// an empty result when e is nil. Without an id (a void call, as the 6.x
// client sends them) it answers nothing.
func (s *socket) replyVoid(binary bool, id json.RawMessage, e *Error) {
	if id == nil {
		return
	}
	sr := socketReplier{s: s, binary: binary}
	if e != nil {
		s.r.writeError(&sr, id, e, false)
	} else {
		s.r.writeResult(&sr, id, Result{}, false)
	}
	sr.flush(true)
}

// send writes one JSON message, as MessagePack when binary is set.
func (s *socket) send(binary bool, msg []byte) {
	if binary {
		b, err := jsonToMsgpack(msg)
		if err != nil {
			s.r.log.ErrorContext(s.ctx, "rpc: websocket: encode MessagePack", "err", err)
			return
		}
		msg = b
	}
	s.write(msg, binary)
}

// write writes one reply as it is, closing the socket if that fails or
// takes longer than WriteTimeout.
func (s *socket) write(msg []byte, binary bool) {
	op := wsconn.OpText
	if binary {
		op = wsconn.OpBinary
	}
	if err := s.conn.WriteMessage(op, msg, time.Now().Add(s.r.opts.WebSocket.WriteTimeout)); err != nil && !errors.Is(err, wsconn.ErrClosing) {
		s.kill()
	}
}

// writeEvent writes one event, framed already. It has no deadline, which
// would cost a timer per socket and event: a write that stalls holds the
// socket's writer, so the next protocol ping waits behind it and its
// timeout ends the socket (PingInterval and PingTimeout), and events
// queued meanwhile past MaxQueuedEvents close it sooner.
func (s *socket) writeEvent(frame []byte) {
	if err := s.conn.WriteFramed(frame, time.Time{}); err != nil && !errors.Is(err, wsconn.ErrClosing) {
		s.kill()
	}
}
