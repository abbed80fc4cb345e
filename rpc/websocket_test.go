package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// wsClient is a bare WebSocket client of the wire format, for tests. A
// goroutine reads the socket, so that waiting for a message that does not
// come does not close it (a cancelled Read would).
type wsClient struct {
	t      testing.TB
	conn   *websocket.Conn
	msgs   chan wsMessage
	closed chan struct{} // closed when reading ends; err says why
	err    error
	pings  atomic.Int64 // quiet's
}

type wsMessage struct {
	typ  websocket.MessageType
	data []byte
}

// dialWS opens a socket to srv's root offering "jsonrpc_2.0", and the token
// when one is given.
func dialWS(t testing.TB, srv *httptest.Server, token string) *wsClient {
	t.Helper()
	protos := []string{rpc.Subprotocol}
	if token != "" {
		protos = append(protos, token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", &websocket.DialOptions{Subprotocols: protos})
	require.NoError(t, err)
	require.Equal(t, rpc.Subprotocol, res.Header.Get("Sec-WebSocket-Protocol"))
	conn.SetReadLimit(16 << 20)
	c := &wsClient{t: t, conn: conn, msgs: make(chan wsMessage, 64), closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		for {
			typ, b, err := conn.Read(context.Background())
			if err != nil {
				c.err = err
				return
			}
			c.msgs <- wsMessage{typ, b}
		}
	}()
	t.Cleanup(func() { conn.CloseNow() })
	return c
}

func (c *wsClient) send(typ websocket.MessageType, msg []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(c.t, c.conn.Write(ctx, typ, msg))
}

func (c *wsClient) sendText(msg string) { c.t.Helper(); c.send(websocket.MessageText, []byte(msg)) }

// read returns the next message, failing the test after a few seconds.
func (c *wsClient) read() (websocket.MessageType, []byte) {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		return m.typ, m.data
	case <-c.closed:
		c.t.Fatalf("socket closed: %v", c.err)
	case <-time.After(5 * time.Second):
		c.t.Fatal("no message within 5 s")
	}
	return 0, nil
}

func (c *wsClient) readText() string {
	c.t.Helper()
	typ, b := c.read()
	require.Equal(c.t, websocket.MessageText, typ)
	return string(b)
}

// quiet asserts that nothing was sent to the socket: the next message is
// the answer to a ping it sends now. What the server sent or queued for it
// before (a reply, a published event) is written before that answer.
func (c *wsClient) quiet() {
	c.t.Helper()
	id := c.pings.Add(1) + 1000
	c.sendText(fmt.Sprintf(`{"jsonrpc":"2.0","method":"/ping","id":%d}`, id))
	require.Equal(c.t, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"/pong"}`, id), c.readText(), "a message before the answer to a ping")
}

// closeStatus waits for the server to close the socket and returns the
// code and reason it sent.
func (c *wsClient) closeStatus(within time.Duration) (websocket.StatusCode, string) {
	c.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case <-c.msgs:
		case <-c.closed:
			var ce websocket.CloseError
			if errors.As(c.err, &ce) {
				return ce.Code, ce.Reason
			}
			c.t.Fatalf("socket closed without a close frame: %v", c.err)
		case <-timeout:
			c.t.Fatalf("socket not closed by the server within %s", within)
		}
	}
}

// callCase is a call sent over both transports.
type callCase struct {
	method string
	params string // a JSON array, or "" for none
	token  string
}

// overHTTP posts a JSON-RPC request object with id 1 to the mount root and
// returns the answer's body.
func overHTTP(t *testing.T, h http.Handler, c callCase) string {
	t.Helper()
	req := `{"jsonrpc":"2.0","method":"` + c.method + `","id":1`
	if c.params != "" {
		req += `,"params":` + c.params
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(req+"}"))
	r.RemoteAddr = "127.0.0.1:1234" // where the sockets of these tests come from: the call records match
	r.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Body.String()
}

func TestWebSocketAnswersAsHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	guest := dialWS(t, srv, "")
	admin := dialWS(t, srv, f.user)
	bad := dialWS(t, srv, "ses_not-a-token") // a bad token makes a guest, never a refusal

	cases := []callCase{
		{method: "/v1/t/echo", params: `["hi"]`},
		{method: "/v1/t/echo"},
		{method: "/v1/t/pair", params: `["x", true, 3]`},
		{method: "/v1/t/pair", params: `["x", "yes"]`},         // -32808, the message names the parameter
		{method: "/v1/t/create", params: `[{"username":"a"}]`}, // -32801 for a guest
		{method: "/v1/t/create", params: `[{"username":"a"}]`, token: f.user},
		{method: "/v1/t/create", params: `[{"username":"taken"}]`, token: f.user},
		{method: "/v1/t/create", params: `[{"username":"a","port":70000}]`, token: f.user},
		{method: "/v1/t/whoami", token: f.user},
		{method: "/v1/t/whoami"},
		{method: "/v1/t/code", params: `[204]`},
		{method: "/v1/t/code", params: `[500]`},
		{method: "/v1/t/code", params: `[501]`},
		{method: "/v1/t/code", params: `[404]`},
		{method: "/v1/t/page"},
		{method: "/v1/t/limited"},
		{method: "/v1/t/limited"},
		{method: "/v1/t/limited"}, // declined: 429
		{method: "/v1/t/nope"},
		{method: "/healthcheck"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.params, func(t *testing.T) {
			want := overHTTP(t, f.reg, c)
			before := f.obs.count()
			httpRec := f.obs.last()
			sock := guest
			if c.token != "" {
				sock = admin
			}
			req := `{"jsonrpc":"2.0","method":"` + c.method + `","id":1`
			if c.params != "" {
				req += `,"params":` + c.params
			}
			sock.sendText(req + "}")
			got := sock.readText()
			assert.Equal(t, want, got)
			if f.obs.count() > before { // the method is logged
				wsRec := f.obs.last()
				httpRec.Start, httpRec.Runtime, wsRec.Start, wsRec.Runtime = time.Time{}, 0, time.Time{}, 0
				if c.method != "/v1/t/limited" { // the bucket runs dry between the two
					assert.Equal(t, httpRec, wsRec, "the call records differ")
				}
			}
		})
	}
	bad.sendText(`{"jsonrpc":"2.0","method":"/v1/t/whoami","id":"a"}`)
	assert.Equal(t, overHTTP(t, f.reg, callCase{method: "/v1/t/whoami"}), strings.Replace(bad.readText(), `"id":"a"`, `"id":1`, 1))
}

func TestWebSocketCallRecordsMatchHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	sock := dialWS(t, srv, f.plain)
	for _, c := range []callCase{
		{method: "/v1/t/create", params: `[{"username":"a"}]`, token: f.plain}, // declined
		{method: "/v1/t/pair", params: `["x", "yes"]`, token: f.plain},
		{method: "/v1/t/code", params: `[500]`, token: f.plain},
		{method: "/v1/t/whoami", token: f.plain},
	} {
		overHTTP(t, f.reg, c)
		httpRec := f.obs.last()
		sock.sendText(`{"jsonrpc":"2.0","method":"` + c.method + `","id":5` + paramsField(c.params) + `}`)
		sock.readText()
		wsRec := f.obs.last()
		httpRec.Start, httpRec.Runtime, wsRec.Start, wsRec.Runtime = time.Time{}, 0, time.Time{}, 0
		assert.Equal(t, httpRec, wsRec, c.method)
	}
}

func paramsField(p string) string {
	if p == "" {
		return ""
	}
	return `,"params":` + p
}

func TestWebSocketMessagePack(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	sock := dialWS(t, srv, "")

	// The 4.x client's absent params: ext 0 (d4 00 00).
	var b bytes.Buffer
	enc := msgpack.NewEncoder(&b)
	require.NoError(t, enc.EncodeMapLen(4))
	for _, kv := range [][2]any{{"jsonrpc", "2.0"}, {"method", "/v1/t/echo"}, {"id", 9}} {
		require.NoError(t, enc.Encode(kv[0]))
		require.NoError(t, enc.Encode(kv[1]))
	}
	require.NoError(t, enc.Encode("params"))
	b.Write([]byte{0xd4, 0x00, 0x00})
	sock.send(websocket.MessageBinary, b.Bytes())
	typ, reply := sock.read()
	require.Equal(t, websocket.MessageBinary, typ)
	var got map[string]any
	require.NoError(t, msgpack.Unmarshal(reply, &got))
	want := map[string]any{}
	require.NoError(t, json.Unmarshal([]byte(overHTTP(t, f.reg, callCase{method: "/v1/t/echo"})), &want))
	want["id"] = float64(9)
	assert.Equal(t, normalize(t, want), normalize(t, got))

	// Params as an array, with an integer, a bool and an optional one.
	req, err := msgpack.Marshal(map[string]any{"jsonrpc": "2.0", "method": "/v1/t/pair", "params": []any{"n", true, 2}, "id": 1})
	require.NoError(t, err)
	sock.send(websocket.MessageBinary, req)
	_, reply = sock.read()
	got = nil
	require.NoError(t, msgpack.Unmarshal(reply, &got))
	require.NoError(t, json.Unmarshal([]byte(overHTTP(t, f.reg, callCase{method: "/v1/t/pair", params: `["n",true,2]`})), &want))
	assert.Equal(t, normalize(t, want), normalize(t, got))

	// Garbage is a parse error, answered without an id.
	sock.send(websocket.MessageBinary, []byte{0xc1})
	_, reply = sock.read()
	got = nil
	require.NoError(t, msgpack.Unmarshal(reply, &got))
	assert.EqualValues(t, rpc.CodeParseError, got["error"].(map[string]any)["code"])
}

// normalize passes v through JSON, so that numbers compare whatever
// decoded them.
func normalize(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func TestWebSocketReservedAndVoid(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	sock := dialWS(t, srv, "")

	sock.sendText(`{"jsonrpc":"2.0","method":"/ping","id":3}`)
	assert.Equal(t, `{"jsonrpc":"2.0","id":3,"method":"/pong"}`, sock.readText())
	sock.sendText(`{"jsonrpc":"2.0","method":"/pong"}`)
	sock.sendText(`{"jsonrpc":"2.0","method":"/ping"}`)

	// A void call gets no reply, and runs.
	sock.sendText(`{"jsonrpc":"2.0","method":"/v1/t/slow","params":["v"]}`)
	select {
	case tag := <-f.ran:
		assert.Equal(t, "v", tag)
	case <-time.After(5 * time.Second):
		t.Fatal("the void call did not run")
	}
	// Recorded once the handler returned, just after it said it ran.
	assert.Eventually(t, func() bool { r := f.obs.last(); return r.Method == "/v1/t/slow" && r.Void }, 2*time.Second, 5*time.Millisecond)
	sock.quiet()

	sock.sendText(`{"jsonrpc":"2.0","method":"/v1/t/upload","id":4}`)
	assert.Contains(t, sock.readText(), `"code":-32900`)

	// A non-array params is one parameter.
	sock.sendText(`{"jsonrpc":"2.0","method":"/v1/t/echo","params":"one","id":5}`)
	assert.Contains(t, sock.readText(), `"data":"one"`)

	// HTTP has the probes too.
	for _, path := range []string{"/ping", "/healthcheck"} {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, 200, res.StatusCode)
		assert.Equal(t, `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"meta":{}}}`, string(body))
	}
}

func TestHealthcheckFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{Healthcheck: func(ctx context.Context) error { return errors.New("db down") }})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/healthcheck")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 503, res.StatusCode)
	sock := dialWS(t, srv, "")
	sock.sendText(`{"jsonrpc":"2.0","method":"/healthcheck","id":1}`)
	assert.Contains(t, sock.readText(), `"code":503`)
}

func TestWebSocketUpgradeRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{WebSocket: rpc.WebSocketOptions{MaxSockets: 2, MaxSocketsPerAddr: 2, AllowedOrigins: []string{"app.example.com"}}})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	ctx := context.Background()

	_, res, err := websocket.Dial(ctx, url, nil)
	require.Error(t, err, "no subprotocol")
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)

	_, res, err = websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{rpc.Subprotocol}, HTTPHeader: http.Header{"Origin": {"https://evil.example.net"}}})
	require.Error(t, err, "a foreign origin")
	assert.Equal(t, http.StatusForbidden, res.StatusCode)

	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{rpc.Subprotocol}, HTTPHeader: http.Header{"Origin": {"https://app.example.com"}}})
	require.NoError(t, err, "an allowed origin")
	defer c.CloseNow()
	dialWS(t, srv, "")
	_, res, err = websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{rpc.Subprotocol}})
	require.Error(t, err, "past MaxSockets")
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)

	// With a prefix, the root is /api and /api/.
	reg := rpc.New(rpc.Options{Prefix: "/api"})
	psrv := httptest.NewServer(reg)
	defer psrv.Close()
	for _, path := range []string{"/api", "/api/"} {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(psrv.URL, "http")+path+"?persistent=true", &websocket.DialOptions{Subprotocols: []string{rpc.Subprotocol}})
		require.NoError(t, err, path)
		c.CloseNow()
	}
}

func TestWebSocketMessageBound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{WebSocket: rpc.WebSocketOptions{MaxMessageBytes: 1024}})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	sock := dialWS(t, srv, "")
	sock.sendText(`{"jsonrpc":"2.0","method":"/v1/t/echo","params":["` + strings.Repeat("a", 2000) + `"],"id":1}`)
	code, _ := sock.closeStatus(5 * time.Second)
	assert.Equal(t, websocket.StatusMessageTooBig, code)
}

func TestWebSocketBoundsCallsInFlight(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{WebSocket: rpc.WebSocketOptions{MaxCallsInFlight: 2}})
	var running, peak atomic.Int32
	release := make(chan struct{})
	reg.Register(rpc.Method{
		ID: "/block", Title: "Block", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) error {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			<-release
			running.Add(-1)
			return nil
		},
	})
	srv := httptest.NewServer(reg)
	defer srv.Close()
	sock := dialWS(t, srv, "")
	for i := range 10 {
		sock.sendText(fmt.Sprintf(`{"jsonrpc":"2.0","method":"/block","id":%d}`, i))
	}
	require.Eventually(t, func() bool { return running.Load() == 2 }, time.Minute, 5*time.Millisecond)
	close(release)
	for range 10 {
		sock.readText()
	}
	assert.EqualValues(t, 2, peak.Load(), "the socket stops reading past its bound")
}

func TestWebSocketRevocation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	ann := dialWS(t, srv, f.user)
	bob := dialWS(t, srv, f.plain)
	guest := dialWS(t, srv, "")
	// Make sure every socket has joined before revoking.
	for _, s := range []*wsClient{ann, bob, guest} {
		s.sendText(`{"jsonrpc":"2.0","method":"/ping","id":1}`)
		s.readText()
	}

	f.reg.Auth().Invalidate(auth.Invalidation{UserID: 7})
	code, reason := ann.closeStatus(time.Minute) // no call in flight: closed at once, not after a grace
	assert.Equal(t, rpc.CloseSignedOut, code)
	assert.Equal(t, "Signed out", reason)

	// The others stay open.
	bob.sendText(`{"jsonrpc":"2.0","method":"/v1/t/whoami","id":2}`)
	assert.Contains(t, bob.readText(), `"data":"bob"`)
	f.reg.Auth().Invalidate(auth.Invalidation{Kind: auth.KindSession, TokenID: 80})
	code, _ = bob.closeStatus(2 * time.Second)
	assert.Equal(t, rpc.CloseSignedOut, code)
	guest.sendText(`{"jsonrpc":"2.0","method":"/ping","id":3}`)
	assert.Contains(t, guest.readText(), "/pong")
}

func TestWebSocketEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	admin := dialWS(t, srv, f.user)
	plain := dialWS(t, srv, f.plain)
	guest := dialWS(t, srv, "")
	sixer := dialWS(t, srv, f.user) // a 6.x client: subscribes, gets /publish
	binary := dialWS(t, srv, f.user)
	for _, s := range []*wsClient{admin, plain, guest, sixer} {
		s.sendText(`{"jsonrpc":"2.0","method":"/ping","id":1}`)
		s.readText()
	}
	sixer.sendText(`{"jsonrpc":"2.0","method":"/subscribe","params":[["settings/update"]]}`)
	sixer.sendText(`{"jsonrpc":"2.0","method":"/ping","id":1}`)
	sixer.readText()
	pingMsgpack(t, binary)

	ctx := context.Background()
	require.NoError(t, f.reg.Publish(ctx, "settings/update", []string{"admin"}, map[string]any{"a": 1}))
	want := `{"jsonrpc":"2.0","method":"/event","params":["settings/update",{"a":1}]}`
	assert.Equal(t, want, admin.readText())
	assert.Equal(t, `{"jsonrpc":"2.0","method":"/publish","params":["settings/update",{"a":1}]}`, sixer.readText())
	typ, b := binary.read()
	assert.Equal(t, websocket.MessageBinary, typ)
	var got any
	require.NoError(t, msgpack.Unmarshal(b, &got))
	var wantV any
	require.NoError(t, json.Unmarshal([]byte(want), &wantV))
	assert.Equal(t, normalize(t, wantV), normalize(t, got))
	plain.quiet()
	guest.quiet()

	require.NoError(t, f.reg.Publish(ctx, "hello", []string{rpc.GroupGuest, rpc.UserGroup(8)}))
	assert.Equal(t, `{"jsonrpc":"2.0","method":"/event","params":["hello"]}`, guest.readText())
	assert.Equal(t, `{"jsonrpc":"2.0","method":"/event","params":["hello"]}`, plain.readText())
	sixer.quiet() // not subscribed to it
	admin.quiet()
}

func pingMsgpack(t *testing.T, s *wsClient) {
	req, err := msgpack.Marshal(map[string]any{"jsonrpc": "2.0", "method": "/ping", "id": 1})
	require.NoError(t, err)
	s.send(websocket.MessageBinary, req)
	typ, _ := s.read()
	require.Equal(t, websocket.MessageBinary, typ)
}

func TestWebSocketClientEvents(t *testing.T) {
	t.Parallel()
	type got struct {
		user string
		name string
		args string
	}
	seen := make(chan got, 4)
	f := newFixture(t, rpc.Options{WebSocket: rpc.WebSocketOptions{
		OnEvent: func(ctx context.Context, name string, args []json.RawMessage) {
			b, _ := json.Marshal(args)
			seen <- got{user: auth.FromContext(ctx).Username, name: name, args: string(b)}
		},
	}})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	sock := dialWS(t, srv, f.user)
	sock.sendText(`{"jsonrpc":"2.0","method":"/event","params":["typing",1,"x"]}`)
	assert.Equal(t, got{"ann", "typing", `[1,"x"]`}, <-seen)
	sock.sendText(`{"jsonrpc":"2.0","method":"/publish","params":["seen"]}`)
	assert.Equal(t, got{"ann", "seen", `[]`}, <-seen)
}

// sharedChannel is an in-process EventChannel between two registries, the
// shape storage.Channel has across instances.
type sharedChannel struct{ subs []func(string) }

func (c *sharedChannel) Publish(ctx context.Context, payload string) error {
	for _, fn := range c.subs {
		fn(payload)
	}
	return nil
}
func (c *sharedChannel) Subscribe(fn func(string)) { c.subs = append(c.subs, fn) }

func TestEventsReachOtherInstances(t *testing.T) {
	t.Parallel()
	ch := &sharedChannel{}
	a := newFixture(t, rpc.Options{})
	b := newFixture(t, rpc.Options{})
	a.reg.ShareEvents(ch)
	b.reg.ShareEvents(ch)
	srvA, srvB := httptest.NewServer(a.reg), httptest.NewServer(b.reg)
	defer srvA.Close()
	defer srvB.Close()
	onA, onB := dialWS(t, srvA, ""), dialWS(t, srvB, "")
	for _, s := range []*wsClient{onA, onB} {
		s.sendText(`{"jsonrpc":"2.0","method":"/ping","id":1}`)
		s.readText()
	}
	require.NoError(t, a.reg.Publish(context.Background(), "x", []string{rpc.GroupAll}, 1))
	want := `{"jsonrpc":"2.0","method":"/event","params":["x",1]}`
	assert.Equal(t, want, onA.readText())
	assert.Equal(t, want, onB.readText())
	onA.quiet() // once, not again through the channel
}

func TestMessagePackOverHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	body, err := msgpack.Marshal([]any{"n", true})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodPost, "/v1/t/pair", bytes.NewReader(body))
	r.Header.Set("Content-Type", rpc.ContentTypeMsgpack)
	w := httptest.NewRecorder()
	f.reg.ServeHTTP(w, r)
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, rpc.ContentTypeMsgpack, w.Header().Get("Content-Type"))
	var got any
	require.NoError(t, msgpack.Unmarshal(w.Body.Bytes(), &got))
	var want any
	require.NoError(t, json.Unmarshal([]byte(do(t, f.reg, request{path: "/v1/t/pair", body: `["n",true]`}).Raw), &want))
	assert.Equal(t, normalize(t, want), normalize(t, got))

	// A schema fault answers in MessagePack too, with HTTP's status.
	body, _ = msgpack.Marshal([]any{"n", "yes"})
	r = httptest.NewRequest(http.MethodPost, "/v1/t/pair", bytes.NewReader(body))
	r.Header.Set("Content-Type", rpc.ContentTypeMsgpack)
	w = httptest.NewRecorder()
	f.reg.ServeHTTP(w, r)
	assert.Equal(t, 400, w.Code)
	got = nil
	require.NoError(t, msgpack.Unmarshal(w.Body.Bytes(), &got))
	assert.EqualValues(t, rpc.CodeInvalidParams, got.(map[string]any)["error"].(map[string]any)["code"])
}

func TestMessagePackParamsPart(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="params"`)
	h.Set("Content-Type", rpc.ContentTypeMsgpack)
	pw, err := mw.CreatePart(h)
	require.NoError(t, err)
	params, _ := msgpack.Marshal([]any{"a note"})
	_, _ = pw.Write(params)
	fw, err := mw.CreateFormFile("file", "f.txt")
	require.NoError(t, err)
	_, _ = fw.Write([]byte("content"))
	require.NoError(t, mw.Close())
	r := httptest.NewRequest(http.MethodPost, "/v1/t/upload", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	a := rpctest.New(f.reg).Do(t, r)
	require.Equal(t, 200, a.HTTP, a.Raw)
	assert.Contains(t, string(a.Data), `"note":"a note"`)
}

func TestWebSocketMessageRate(t *testing.T) {
	t.Parallel()
	clock := rpctest.NewClock()
	f := newFixture(t, rpc.Options{Clock: clock, WebSocket: rpc.WebSocketOptions{MaxMessagesPerSecond: 5}})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	sock := dialWS(t, srv, "")
	for i := range 10 {
		sock.sendText(fmt.Sprintf(`{"jsonrpc":"2.0","method":"/ping","id":%d}`, i))
	}
	// A burst of 5, with the clock standing still.
	for range 5 {
		sock.readText()
	}
	// Then 5 more at 5 a second: each waits for a token, 200 ms, on a timer
	// of its own beside the socket's ping timer.
	for range 5 {
		clock.Timers(t, 2)
		assert.Equal(t, 200*time.Millisecond, clock.Next(t))
		sock.readText()
	}
}

func TestWebSocketDeadClientsAreClosed(t *testing.T) {
	t.Parallel()
	const interval, timeout = time.Second, 100 * time.Millisecond
	clock := rpctest.NewClock()
	f := newFixture(t, rpc.Options{Clock: clock, WebSocket: rpc.WebSocketOptions{PingInterval: interval, PingTimeout: timeout}})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	alive := dialWS(t, srv, "") // its reader answers pings
	dead, _ := bareSocket(t, srv.Listener.Addr().String())
	defer dead.Close() // never reads, so never answers a ping
	require.Eventually(t, func() bool { return f.reg.Sockets() == 2 }, time.Minute, 5*time.Millisecond)

	// Both are pinged within an interval (their first pings spread over
	// it); the alive one's pong sets its next ping, the dead one's ping
	// waits for its timeout.
	clock.Timers(t, 2)
	clock.Advance(interval)
	pending(t, clock, timeout, interval)
	clock.Advance(timeout)
	require.Eventually(t, func() bool { return f.reg.Sockets() == 1 }, time.Minute, 5*time.Millisecond)

	// The alive one lives on, ping after ping.
	for range 3 {
		pending(t, clock, interval)
		clock.Advance(interval)
	}
	alive.sendText(`{"jsonrpc":"2.0","method":"/ping","id":1}`)
	assert.Contains(t, alive.readText(), "/pong")
	assert.Equal(t, 1, f.reg.Sockets())
}

// pending waits until the clock's pending timers are those of want, in the
// order they fire.
func pending(t *testing.T, clock *rpctest.Clock, want ...time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return slices.Equal(clock.Pending(), want) },
		time.Minute, time.Millisecond, "pending %v, want %v", clock.Pending(), want)
}

// TestWebSocketSessionExpiry: a socket whose session runs out is closed as
// a signed-out one, when the clock passes the session's end.
func TestWebSocketSessionExpiry(t *testing.T) {
	t.Parallel()
	clock := rpctest.NewClock()
	reg := rpc.New(rpc.Options{Clock: clock, WebSocket: rpc.WebSocketOptions{PingInterval: 24 * time.Hour}})
	token, _, err := auth.NewToken(auth.KindSession)
	require.NoError(t, err)
	ends := clock.Now().Add(time.Hour)
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(context.Context, string) (*auth.Principal, error) {
		return &auth.Principal{UserID: 5, Username: "eve", Kind: auth.KindSession, ExpiresAt: ends}, nil
	}))
	srv := httptest.NewServer(reg)
	defer srv.Close()
	sock := dialWS(t, srv, token)
	require.Eventually(t, func() bool { // the session's end, and the first ping, later
		p := clock.Pending()
		return len(p) == 2 && p[0] == time.Hour
	}, time.Minute, time.Millisecond, "pending %v", clock.Pending())
	clock.Advance(time.Hour - time.Nanosecond)
	sock.quiet()
	clock.Advance(time.Nanosecond)
	code, reason := sock.closeStatus(time.Minute)
	assert.Equal(t, rpc.CloseSignedOut, code)
	assert.Equal(t, "Signed out", reason)
}

func TestShutdownClosesSockets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	sock := dialWS(t, srv, "")
	require.Eventually(t, func() bool { return f.reg.Sockets() == 1 }, 2*time.Second, 5*time.Millisecond)
	require.NoError(t, f.reg.Shutdown(context.Background()))
	code, _ := sock.closeStatus(2 * time.Second)
	assert.Equal(t, websocket.StatusGoingAway, code)
}

func TestMessagePackAbsentBody(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	r := httptest.NewRequest(http.MethodPost, "/v1/t/echo", bytes.NewReader([]byte{0xd4, 0x00, 0x00}))
	r.Header.Set("Content-Type", rpc.ContentTypeMsgpack)
	w := httptest.NewRecorder()
	f.reg.ServeHTTP(w, r)
	require.Equal(t, 200, w.Code)
	var got map[string]any
	require.NoError(t, msgpack.Unmarshal(w.Body.Bytes(), &got))
	assert.Equal(t, "", got["result"].(map[string]any)["data"])
}

func TestWebSocketCallDeadline(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{CallTimeout: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	reg.Register(rpc.Method{
		ID: "/hang", Title: "Hang", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		},
	})
	srv := httptest.NewServer(reg)
	defer srv.Close()
	sock := dialWS(t, srv, "")
	sock.sendText(`{"jsonrpc":"2.0","method":"/hang","id":1}`)
	assert.Equal(t, overHTTP(t, reg, callCase{method: "/hang"}), sock.readText())
}

// stateChannel is a pubsub.Channel whose listening state the test drives.
type stateChannel struct {
	mu     sync.Mutex
	states []func(bool)
}

func (c *stateChannel) Publish(ctx context.Context, payload string) error { return nil }
func (c *stateChannel) Subscribe(fn func(string))                         {}
func (c *stateChannel) OnState(fn func(bool)) {
	c.mu.Lock()
	c.states = append(c.states, fn)
	c.mu.Unlock()
	fn(true)
}
func (c *stateChannel) set(listening bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, fn := range c.states {
		fn(listening)
	}
}

// Invalidations published while the auth channel did not listen are lost:
// once it listens again, the sockets are checked again, and those of a
// credential that no longer authenticates are closed.
func TestWebSocketRecheckAfterMissedInvalidations(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ch := &stateChannel{}
	reg.Auth().Share(ch)
	var mu sync.Mutex
	valid := map[string]*auth.Principal{}
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(ctx context.Context, token string) (*auth.Principal, error) {
		mu.Lock()
		defer mu.Unlock()
		if p, ok := valid[token]; ok {
			return p, nil
		}
		return nil, auth.ErrUnknownToken
	}))
	ended, _, _ := auth.NewToken(auth.KindSession)
	kept, _, _ := auth.NewToken(auth.KindSession)
	valid[ended] = &auth.Principal{UserID: 3, Username: "ann", Kind: auth.KindSession, TokenID: 30}
	valid[kept] = &auth.Principal{UserID: 4, Username: "bob", Kind: auth.KindSession, TokenID: 40}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	a, b := dialWS(t, srv, ended), dialWS(t, srv, kept)
	require.Eventually(t, func() bool { return reg.Sockets() == 2 }, 2*time.Second, 5*time.Millisecond)

	ch.set(false)
	mu.Lock()
	delete(valid, ended) // signed out on another instance; its message is lost
	mu.Unlock()
	a.quiet()
	ch.set(true)
	code, _ := a.closeStatus(2 * time.Second)
	assert.Equal(t, rpc.CloseSignedOut, code)
	b.sendText(`{"jsonrpc":"2.0","method":"/ping","id":1}`)
	assert.Contains(t, b.readText(), "/pong")
}

// A client that stops reading while events pile up stalls the socket's
// writer; the next ping cannot be sent either, and the socket is closed.
func TestWebSocketStalledEventWriteIsClosed(t *testing.T) {
	t.Parallel()
	const interval, timeout = time.Second, 100 * time.Millisecond
	clock := rpctest.NewClock()
	reg := rpc.New(rpc.Options{Clock: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), WebSocket: rpc.WebSocketOptions{
		PingInterval: interval, PingTimeout: timeout, MaxQueuedEvents: 100_000,
	}})
	srv := httptest.NewServer(reg)
	defer srv.Close()
	stalled, _ := bareSocket(t, srv.Listener.Addr().String())
	defer stalled.Close()
	require.Eventually(t, func() bool { return reg.Sockets() == 1 }, time.Minute, 5*time.Millisecond)
	big := strings.Repeat("x", 64<<10)
	for range 400 { // 25 MiB: more than the connection's buffers hold
		require.NoError(t, reg.Publish(context.Background(), "big", []string{rpc.GroupAll}, big))
	}
	clock.Timers(t, 1)
	clock.Advance(interval) // the ping waits behind the stalled writer ...
	pending(t, clock, timeout)
	clock.Advance(timeout) // ... until its timeout closes the socket
	require.Eventually(t, func() bool { return reg.Sockets() == 0 }, time.Minute, 10*time.Millisecond)
}

// A principal the host's middleware put on the upgrade request counts for the
// socket as for its calls (one rule, rpc's caller): its groups get the
// events, and the client's own events reach the hook as that caller.
func TestWebSocketMiddlewarePrincipal(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 1)
	f := newFixture(t, rpc.Options{WebSocket: rpc.WebSocketOptions{
		OnEvent: func(ctx context.Context, name string, args []json.RawMessage) {
			seen <- auth.FromContext(ctx).Username
		},
	}})
	host := &auth.Principal{UserID: 9, Username: "host-user", Permissions: map[string]bool{"admin": true}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.reg.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), host)))
	}))
	defer srv.Close()
	sock := dialWS(t, srv, "")
	sock.sendText(`{"jsonrpc":"2.0","method":"/ping","id":1}`)
	sock.readText()

	require.NoError(t, f.reg.Publish(context.Background(), "settings/update", []string{"admin"}, 1))
	assert.Equal(t, `{"jsonrpc":"2.0","method":"/event","params":["settings/update",1]}`, sock.readText())
	sock.sendText(`{"jsonrpc":"2.0","method":"/event","params":["typing"]}`)
	assert.Equal(t, "host-user", <-seen)
}

// TestEventToManySockets: past a few hundred sockets an event is pushed
// from several goroutines that share the sockets out in batches; every
// socket gets every event once, in the order published.
func TestEventToManySockets(t *testing.T) {
	t.Parallel()
	const n = 1200
	f := newFixture(t, rpc.Options{WebSocket: rpc.WebSocketOptions{MaxSockets: n + 10, MaxSocketsPerAddr: n + 10}})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	sockets := make([]*wsClient, n)
	for i := range sockets {
		sockets[i] = dialWS(t, srv, "")
		sockets[i].sendText(`{"jsonrpc":"2.0","method":"/ping","id":1}`)
		sockets[i].readText()
	}
	for i := range 3 {
		require.NoError(t, f.reg.Publish(t.Context(), "tick", []string{rpc.GroupGuest}, i))
	}
	for _, s := range sockets {
		for i := range 3 {
			require.Equal(t, fmt.Sprintf(`{"jsonrpc":"2.0","method":"/event","params":["tick",%d]}`, i), s.readText())
		}
	}
	for _, s := range sockets[:10] {
		s.quiet()
	}
}
