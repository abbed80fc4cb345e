package natspubsub_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/tcpproxy"
	"github.com/authrpc/authrpc/pubsub/natspubsub"
	"github.com/authrpc/authrpc/pubsub/natspubsub/natstest"
	"github.com/authrpc/authrpc/rpc"
)

// sessions stands for the session table every instance reads: the host's
// own authenticator, as a host with its own bearer tokens has.
type sessions struct {
	mu     sync.Mutex
	byHash map[string]auth.Principal
}

func (ss *sessions) signin(t *testing.T, userID int64) string {
	t.Helper()
	plain, digest, err := auth.NewToken(auth.KindSession)
	require.NoError(t, err)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.byHash == nil {
		ss.byHash = make(map[string]auth.Principal)
	}
	ss.byHash[string(digest)] = auth.Principal{UserID: userID, Username: fmt.Sprint("user", userID), Kind: auth.KindSession, TokenID: userID}
	return plain
}

// signout ends the session in the table; the caller then invalidates it,
// as the users module does after its change commits.
func (ss *sessions) signout(token string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byHash, string(auth.Digest(token)))
}

func (ss *sessions) Authenticate(_ context.Context, token string) (*auth.Principal, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	p, ok := ss.byHash[string(auth.Digest(token))]
	if !ok {
		return nil, auth.ErrUnknownToken
	}
	return &p, nil
}

// instance is one copy of a service: a registry serving HTTP, sharing its
// auth cache and its events over its own NATS connection.
type instance struct {
	reg  *rpc.Registry
	ns   *natspubsub.Sync
	url  string // ws:// of the mount root
	auth *states
}

func startInstance(t *testing.T, ss *sessions, natsURL string, opts natspubsub.Options) *instance {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	ns, err := natspubsub.Connect(t.Context(), natsURL, opts)
	require.NoError(t, err)
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	reg.OnShutdown(ns.Close)
	reg.Auth().Handle(auth.KindSession, ss)
	reg.Auth().Share(ns.Channel("auth"))
	reg.ShareEvents(ns.Channel("events"))
	srv := httptest.NewServer(reg)
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, reg.Shutdown(context.Background()))
	})
	in := &instance{reg: reg, ns: ns, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/", auth: watch(ns.Channel("auth"))}
	in.auth.until(t, true, 5*time.Second)
	return in
}

// socket is a WebSocket to an instance, read by a goroutine of its own.
type socket struct {
	t      *testing.T
	conn   *websocket.Conn
	msgs   chan string
	closed chan struct{}
	err    error
}

func (in *instance) dial(t *testing.T, token string) *socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, in.url, &websocket.DialOptions{Subprotocols: []string{rpc.Subprotocol, token}})
	require.NoError(t, err)
	conn.SetReadLimit(1 << 20)
	s := &socket{t: t, conn: conn, msgs: make(chan string, 64), closed: make(chan struct{})}
	go func() {
		defer close(s.closed)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				s.err = err
				return
			}
			s.msgs <- string(b)
		}
	}()
	t.Cleanup(func() { conn.CloseNow() })
	// The socket has joined its groups once it answers.
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","method":"/ping","id":1}`)))
	assert.Contains(t, s.next(), `"method":"/pong"`)
	return s
}

func (s *socket) next() string {
	s.t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-s.closed:
		s.t.Fatalf("socket closed: %v", s.err)
	case <-time.After(5 * time.Second):
		s.t.Fatal("no message within 5 s")
	}
	return ""
}

// closedWith waits until the server closes the socket, and returns its code.
func (s *socket) closedWith(within time.Duration) websocket.StatusCode {
	s.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case <-s.msgs:
		case <-s.closed:
			var ce websocket.CloseError
			require.True(s.t, errors.As(s.err, &ce), "closed without a close frame: %v", s.err)
			return ce.Code
		case <-timeout:
			s.t.Fatalf("still open %s later", within)
		}
	}
}

// open checks that the socket is still open and answering.
func (s *socket) open() {
	s.t.Helper()
	require.NoError(s.t, s.conn.Write(s.t.Context(), websocket.MessageText, []byte(`{"jsonrpc":"2.0","method":"/ping","id":2}`)))
	assert.Contains(s.t, s.next(), `"method":"/pong"`)
}

// TestTwoInstances: two registries sharing the machine's NATS server. An
// event published on one reaches a socket on the other; a signout on one
// closes the socket on the other (within a second: the wait for it is
// generous, the time is logged).
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	url := natstest.URL(t)
	prefix := testPrefix()
	var ss sessions
	a := startInstance(t, &ss, url, natspubsub.Options{Prefix: prefix})
	b := startInstance(t, &ss, url, natspubsub.Options{Prefix: prefix})
	ann := ss.signin(t, 7)
	onB := b.dial(t, ann)

	require.NoError(t, a.reg.Publish(t.Context(), "note", []string{rpc.UserGroup(7)}, "hello", 1))
	assert.Equal(t, `{"jsonrpc":"2.0","method":"/event","params":["note","hello",1]}`, onB.next())
	big := strings.Repeat("b", 64<<10)
	require.NoError(t, a.reg.Publish(t.Context(), "big", []string{rpc.GroupUser}, big))
	assert.Equal(t, `{"jsonrpc":"2.0","method":"/event","params":["big","`+big+`"]}`, onB.next())

	start := time.Now()
	ss.signout(ann)
	a.reg.Auth().Invalidate(auth.Invalidation{UserID: 7})
	assert.Equal(t, websocket.StatusCode(4000), onB.closedWith(eventWait))
	t.Logf("closed on b %v after the signout on a", time.Since(start))
}

// TestSignoutThroughServerRestart: a signout published while the server is
// down, or while it is coming back, still closes the socket on the other
// instance: it stopped listening, and when it listens again it checks
// every socket's token anew.
func TestSignoutThroughServerRestart(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.Options{})
	opts := natspubsub.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	var ss sessions
	a := startInstance(t, &ss, srv.URL(), opts)
	b := startInstance(t, &ss, srv.URL(), opts)

	for round, when := range []string{"while down", "just restarted"} {
		ann := ss.signin(t, int64(10+round))
		onB := b.dial(t, ann)
		srv.Stop()
		require.False(t, b.auth.next(t, 5*time.Second), "b stops listening")
		require.False(t, a.auth.next(t, 5*time.Second), "a stops listening")
		if when == "just restarted" {
			srv.Start()
		}
		ss.signout(ann)
		a.reg.Auth().Invalidate(auth.Invalidation{UserID: int64(10 + round)})
		if when == "while down" {
			onB.open()
			srv.Start()
		}
		start := time.Now()
		assert.Equal(t, websocket.StatusCode(4000), onB.closedWith(5*time.Second), when)
		t.Logf("%s: closed on b %v after the server was back", when, time.Since(start))
		b.auth.until(t, true, 5*time.Second)
		a.auth.until(t, true, 5*time.Second)
	}
}

// TestSignoutThroughPartition: b is cut off from the server without a word
// while a publishes a signout, which never reaches b. b finds the silence
// out, and once back it checks its sockets: the signed-out one closes.
func TestSignoutThroughPartition(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, natstest.Options{})
	p := tcpproxy.New(t, srv.Addr())
	var ss sessions
	a := startInstance(t, &ss, srv.URL(), natspubsub.Options{})
	b := startInstance(t, &ss, "nats://"+p.Addr(), natspubsub.Options{
		PingInterval: 100 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	})
	ann := ss.signin(t, 21)
	onB := b.dial(t, ann)
	bob := ss.signin(t, 22)
	bobOnB := b.dial(t, bob)

	p.BlackHole()
	ss.signout(ann)
	a.reg.Auth().Invalidate(auth.Invalidation{UserID: 21})
	require.False(t, b.auth.next(t, 5*time.Second), "b finds the silence out")
	onB.open()

	p.Restore()
	start := time.Now()
	assert.Equal(t, websocket.StatusCode(4000), onB.closedWith(5*time.Second))
	t.Logf("closed on b %v after the network came back", time.Since(start))
	bobOnB.open() // the others stay open

	require.NoError(t, a.reg.Publish(t.Context(), "after", []string{rpc.UserGroup(22)}))
	assert.Equal(t, `{"jsonrpc":"2.0","method":"/event","params":["after"]}`, bobOnB.next())
}
