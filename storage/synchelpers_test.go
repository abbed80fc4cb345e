package storage_test

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
)

// openPostgres opens another pool on dsn, as another instance would.
func openPostgres(t testing.TB, dsn string) *bun.DB {
	t.Helper()
	db, err := storage.Open(t.Context(), dsn, storage.WithMaxOpenConns(4))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// testLogger writes to the test's log, so that a failure shows what the
// Sync went through.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// newSync starts a Sync and closes it when the test ends.
func newSync(t testing.TB, db *bun.DB, opts storage.SyncOptions) *storage.Sync {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := storage.NewSync(t.Context(), db, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close(context.Background())) })
	return s
}

type message struct {
	payload string
	at      time.Time
}

// inbox collects what a channel's subscriber receives.
type inbox struct{ ch chan message }

func subscribe(c *storage.Channel) *inbox {
	in := &inbox{ch: make(chan message, 1000)}
	c.Subscribe(func(p string) { in.ch <- message{p, time.Now()} })
	return in
}

func (in *inbox) next(t testing.TB, timeout time.Duration) message {
	t.Helper()
	select { // what is there already wins over a zero timeout
	case m := <-in.ch:
		return m
	default:
	}
	select {
	case m := <-in.ch:
		return m
	case <-time.After(timeout):
		t.Fatalf("no message within %v", timeout)
		return message{}
	}
}

// nothingBefore checks that nothing reached in so far: it sends a marker
// on in's PostgreSQL channel pgChannel through db, which must then be the
// next message. PostgreSQL delivers notifications in the order their
// transactions committed, so anything sent before would arrive first.
func (in *inbox) nothingBefore(t testing.TB, db *bun.DB, pgChannel string) {
	t.Helper()
	_, err := db.ExecContext(t.Context(), "SELECT pg_notify(?, 'marker')", pgChannel)
	require.NoError(t, err)
	assert.Equal(t, "marker", in.next(t, eventWait).payload, "nothing before the marker")
}

// states collects what a channel's state subscriber is told, and when.
type states struct{ ch chan state }

type state struct {
	listening bool
	at        time.Time
}

func watch(c *storage.Channel) *states {
	s := &states{ch: make(chan state, 100)}
	c.OnState(func(listening bool) { s.ch <- state{listening, time.Now()} })
	return s
}

// next returns the next state reported and how long after since it was.
func (s *states) next(t testing.TB, since time.Time, timeout time.Duration) (bool, time.Duration) {
	t.Helper()
	select { // what is there already wins over a zero timeout
	case v := <-s.ch:
		return v.listening, v.at.Sub(since)
	default:
	}
	select {
	case v := <-s.ch:
		return v.listening, v.at.Sub(since)
	case <-time.After(timeout):
		t.Fatalf("no state change within %v", timeout)
		return false, 0
	}
}

// until skips states until want is reported.
func (s *states) until(t testing.TB, want bool, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case v := <-s.ch:
			if v.listening == want {
				return
			}
		case <-deadline:
			t.Fatalf("state %v not reported within %v", want, timeout)
		}
	}
}

// listenPID returns the backend pid of the notification connection with
// the given application_name on the current database.
func listenPID(t testing.TB, db *bun.DB, appName string) int {
	t.Helper()
	var pids []int
	require.Eventually(t, func() bool {
		pids = nil
		err := db.NewRaw("SELECT pid FROM pg_stat_activity WHERE application_name = ? AND datname = current_database()", appName).
			Scan(t.Context(), &pids)
		require.NoError(t, err)
		return len(pids) == 1
	}, 5*time.Second, 10*time.Millisecond, "one backend named %q", appName)
	return pids[0]
}

// terminate ends a backend as an administrator (or a failover) would.
func terminate(t testing.TB, db *bun.DB, pid int) {
	t.Helper()
	var ok bool
	require.NoError(t, db.NewRaw("SELECT pg_terminate_backend(?)", pid).Scan(t.Context(), &ok))
	require.True(t, ok, "pg_terminate_backend(%d)", pid)
}

// proxy forwards TCP connections to a PostgreSQL server, and can refuse new
// connections or silently swallow the traffic of the open ones: the
// network failures that a test cannot get from the server itself.
type proxy struct {
	ln      net.Listener
	target  string
	refuse  atomic.Bool
	refused atomic.Int32 // connections refused

	mu     sync.Mutex
	conns  map[*proxyConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

type proxyConn struct {
	client, server net.Conn
	blackholed     atomic.Bool
}

// startProxy starts a proxy to the server of dsn and returns it with a dsn
// that goes through it. It stops when the test ends.
func startProxy(t testing.TB, dsn string) (*proxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: u.Host, conns: make(map[*proxyConn]struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	u.Host = ln.Addr().String()
	return p, u.String()
}

func (p *proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.refuse.Load() {
			client.Close()
			p.refused.Add(1)
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		pc := &proxyConn{client: client, server: server}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns[pc] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(pc, client, server) })
		p.wg.Go(func() { p.pipe(pc, server, client) })
	}
}

func (p *proxy) pipe(pc *proxyConn, src, dst net.Conn) {
	defer func() {
		pc.client.Close()
		pc.server.Close()
		p.mu.Lock()
		delete(p.conns, pc)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pc.blackholed.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// blackhole makes the open connections drop everything from now on,
// without closing them: a network that went away without a word.
func (p *proxy) blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := range p.conns {
		pc.blackholed.Store(true)
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	for pc := range p.conns {
		pc.client.Close()
		pc.server.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}
