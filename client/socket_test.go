package client_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/client"
	"github.com/authrpc/authrpc/internal/fakeclock"
	"github.com/authrpc/authrpc/rpc"
)

// server is a registry with a few methods on a real socket.
type server struct {
	reg     *rpc.Registry
	srv     *httptest.Server
	release chan struct{} // /v1/block returns when it is closed
	blocked chan struct{} // told when a call of /v1/block starts
	voids   atomic.Int32  // calls of /v1/count
	counted chan struct{} // told after each call of /v1/count
	events  chan []any    // what clients published: name, then args
	drop    func()        // breaks every connection, WebSockets too
}

// tell sends on ch unless its buffer is full: a test that waits for the
// event reads it in time.
func tell(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// trackingListener keeps the connections it accepted, so that a test can
// break them: httptest's CloseClientConnections leaves out hijacked ones.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *trackingListener) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		_ = c.Close()
	}
	l.conns = nil
}

func newServer(t testing.TB) *server {
	s := &server{release: make(chan struct{}), blocked: make(chan struct{}, 16), counted: make(chan struct{}, 16), events: make(chan []any, 16)}
	s.reg = rpc.New(rpc.Options{WebSocket: rpc.WebSocketOptions{
		// Unbounded for BenchmarkCall, which sends more than the default
		// 1,000 a second on one socket; the bound is the server's policy.
		MaxMessagesPerSecond: 1 << 30,
		OnEvent: func(ctx context.Context, name string, args []json.RawMessage) {
			ev := []any{name}
			for _, a := range args {
				ev = append(ev, string(a))
			}
			s.events <- ev
		},
	}})
	anyone := []string{auth.Anyone}
	s.reg.Register(rpc.Method{ID: "/v1/echo", Title: "Echo", Permissions: anyone, Params: []rpc.Param{{Name: "text"}},
		Handler: func(ctx context.Context, text string) (string, error) { return text, nil }})
	s.reg.Register(rpc.Method{ID: "/v1/block", Title: "Block", Permissions: anyone,
		Handler: func(ctx context.Context) error {
			tell(s.blocked)
			select {
			case <-s.release:
			case <-ctx.Done():
			}
			return nil
		}})
	s.reg.Register(rpc.Method{ID: "/v1/count", Title: "Count", Permissions: anyone,
		Handler: func(ctx context.Context) error { s.voids.Add(1); tell(s.counted); return nil }})
	s.srv = httptest.NewUnstartedServer(s.reg)
	ln := &trackingListener{Listener: s.srv.Listener}
	s.srv.Listener = ln
	s.drop = ln.drop
	s.srv.Start()
	t.Cleanup(func() {
		select {
		case <-s.release:
		default:
			close(s.release)
		}
		s.srv.Close()
	})
	return s
}

func (s *server) ws() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/" }

func dial(t *testing.T, url string, opts client.Options) *client.Client {
	t.Helper()
	c, err := client.New(url, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventWait bounds the wait for something that takes milliseconds:
// generous, so that only a broken client or server runs it out.
const eventWait = 10 * time.Second

func next(t *testing.T, ch <-chan client.Event) client.Event {
	t.Helper()
	return waitFor(t, ch, "an event")
}

// waitFor returns what ch receives, failing the test after eventWait.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(eventWait):
		t.Fatalf("no %s within %v", what, eventWait)
		var zero T
		return zero
	}
}

// Events the server publishes reach handlers and channels, in JSON and in
// MessagePack; a handler that is off gets nothing more.
func TestSocketEvents(t *testing.T) {
	t.Parallel()
	for _, enc := range []client.Encoding{client.JSON, client.MessagePack} {
		t.Run(enc.String(), func(t *testing.T) {
			s := newServer(t)
			ctx := ctxFor(t, 10*time.Second)
			c := dial(t, s.ws(), client.Options{Encoding: enc})
			news := make(chan client.Event, 4)
			c.Notify("news", news)
			var mu sync.Mutex
			var other []string
			off := c.On("other", func(e client.Event) {
				var text string
				require.NoError(t, e.Decode(&text))
				mu.Lock()
				other = append(other, text)
				mu.Unlock()
			})
			require.NoError(t, c.Ping(ctx)) // connected, so the socket is in the server's groups

			require.NoError(t, s.reg.Publish(ctx, "news", []string{rpc.GroupAll}, "first", map[string]int{"n": 1}))
			e := next(t, news)
			assert.Equal(t, "news", e.Name)
			var text string
			var obj struct{ N int }
			require.NoError(t, e.Decode(&text, &obj))
			assert.Equal(t, "first", text)
			assert.Equal(t, 1, obj.N)
			assert.Error(t, e.Decode(&text, &obj, new(int)), "a third argument was not sent")

			require.NoError(t, s.reg.Publish(ctx, "other", []string{rpc.GroupGuest}, "x"))
			require.NoError(t, s.reg.Publish(ctx, "news", []string{rpc.GroupAll}, "second"))
			next(t, news) // events arrive in order: "other" was handled before it
			mu.Lock()
			assert.Equal(t, []string{"x"}, other)
			mu.Unlock()

			off()
			require.NoError(t, s.reg.Publish(ctx, "other", []string{rpc.GroupAll}, "y"))
			require.NoError(t, s.reg.Publish(ctx, "news", []string{rpc.GroupAll}, "third"))
			next(t, news)
			mu.Lock()
			assert.Equal(t, []string{"x"}, other, "no handler after off")
			mu.Unlock()
		})
	}
}

// Publish reaches the host's hook with the event's name and arguments.
func TestSocketPublish(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := ctxFor(t, 10*time.Second)
	c := dial(t, s.ws(), client.Options{Encoding: client.MessagePack})
	require.NoError(t, c.Publish(ctx, "hello", 1, "two"))
	select {
	case ev := <-s.events:
		assert.Equal(t, []any{"hello", "1", `"two"`}, ev)
	case <-ctx.Done():
		t.Fatal("the hook got no event")
	}
}

// A void call is sent and runs; over a WebSocket it is not answered.
func TestSocketVoidCall(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := ctxFor(t, 10*time.Second)
	c := dial(t, s.ws(), client.Options{})
	require.NoError(t, c.VoidCall(ctx, "/v1/count"))
	waitFor(t, s.counted, "call of /v1/count")
	assert.EqualValues(t, 1, s.voids.Load())
	assert.NoError(t, c.VoidCall(ctx, "/v1/echo", 5), "over a WebSocket nothing is answered")

	// Over HTTP the answer comes at once: a refusal is an *Error.
	h := dial(t, s.srv.URL, client.Options{})
	require.NoError(t, h.VoidCall(ctx, "/v1/count"))
	waitFor(t, s.counted, "call of /v1/count")
	assert.EqualValues(t, 2, s.voids.Load())
	assert.Equal(t, -32808, client.Code(h.VoidCall(ctx, "/v1/echo", 5)))
}

// A socket that drops fails the calls out on it with a *CloseError, says
// so with EventDisconnect, reconnects, and serves the next calls.
func TestSocketReconnect(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := ctxFor(t, 10*time.Second)
	c := dial(t, s.ws(), client.Options{Reconnect: client.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}})
	connects := make(chan client.Event, 4)
	disconnects := make(chan client.Event, 4)
	c.Notify(client.EventConnect, connects)
	c.Notify(client.EventDisconnect, disconnects)
	next(t, connects)

	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, "/v1/block")
		errc <- err
	}()
	waitFor(t, s.blocked, "call of /v1/block") // the call is out
	s.drop()

	var ce *client.CloseError
	require.ErrorAs(t, <-errc, &ce)
	assert.Equal(t, 1006, ce.Code)
	var code int
	require.NoError(t, next(t, disconnects).Decode(&code))
	assert.Equal(t, 1006, code)
	next(t, connects)
	echo, err := client.Call[string](ctx, c, "/v1/echo", "back")
	require.NoError(t, err)
	assert.Equal(t, "back", echo)
}

// Calls made while the server is down wait for the socket, and are
// answered once the server is back on the same address.
func TestSocketCallsWaitForTheServer(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	addr := s.srv.Listener.Addr().String()
	s.srv.Close()

	clock := fakeclock.New()
	c := dial(t, "ws://"+addr+"/", client.Options{Reconnect: client.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}, After: clock.After})
	ctx := ctxFor(t, 10*time.Second)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, "/v1/echo", "waited")
		errc <- err
	}()
	for range 3 { // three attempts fail, each followed by a wait
		clock.Next(t)
	}
	clock.Waits(t, 1)
	select {
	case err := <-errc:
		t.Fatalf("the call ended while the server was down: %v", err)
	default:
	}
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := &http.Server{Handler: s.reg, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	clock.Next(t)
	require.NoError(t, waitFor(t, errc, "answer"))

	// A call that waits no longer than its context.
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Call(short, "/v1/block")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// An upgrade refused again and again is retried ever more slowly, never in
// a tight loop: the @softvisio/core client against a server without WebSocket
// reconnected a thousand times a second.
func TestSocketBackoff(t *testing.T) {
	t.Parallel()
	var upgrades atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upgrades.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	clock := fakeclock.New()
	c := dial(t, "ws"+strings.TrimPrefix(srv.URL, "http"), client.Options{Reconnect: client.Backoff{Min: 20 * time.Millisecond, Max: 80 * time.Millisecond}, After: clock.After})
	// Each refusal is followed by one wait, of 10–20, 20–40, then 40–80 ms
	// for ever; the next try comes only once it is over.
	for i := range 6 {
		backoff := min(20*time.Millisecond<<i, 80*time.Millisecond)
		waited := clock.Waits(t, 1)[0]
		assert.EqualValues(t, i+1, upgrades.Load(), "one try per wait")
		assert.True(t, waited >= backoff/2 && waited <= backoff, "wait %d: %v, want half of %v to all of it", i, waited, backoff)
		clock.Next(t)
	}
	clock.Waits(t, 1)
	assert.EqualValues(t, 7, upgrades.Load(), "it keeps trying")
	require.NoError(t, c.Close())
	_, err := c.Call(context.Background(), "/v1/echo", "x")
	assert.ErrorIs(t, err, client.ErrClosed)
}

// An answer past MaxMessageBytes closes the socket (1009) instead of
// being read whole; the call fails with a *CloseError.
func TestSocketMaxMessageBytes(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := ctxFor(t, 10*time.Second)
	c := dial(t, s.ws(), client.Options{MaxMessageBytes: 1000})
	_, err := c.Call(ctx, "/v1/echo", "short")
	require.NoError(t, err)
	_, err = c.Call(ctx, "/v1/echo", strings.Repeat("x", 2000))
	var ce *client.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 1009, ce.Code)
}
