package calllog_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/internal/logbuf"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// proxy forwards TCP connections to a PostgreSQL server and can cut them
// all and refuse new ones, as a database outage or a network partition would.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	hang  bool // accept connections and never answer, like a black hole
	conns map[net.Conn]struct{}
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
	})
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *proxy) forward(c net.Conn) {
	p.mu.Lock()
	if p.hang {
		p.conns[c] = struct{}{} // held open, silent, until cut
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		_ = c.Close()
		_ = s.Close()
		return
	}
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
	}
	go pipe(c, s)
	go pipe(s, c)
}

// cut closes every connection and refuses new ones until restore.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

func (p *proxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down, p.hang = false, false
}

// held counts the connections held open and silent.
func (p *proxy) held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.hang {
		return 0
	}
	return len(p.conns)
}

// blackHole cuts every connection; new ones are accepted and never answered.
func (p *proxy) blackHole() {
	p.cut()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down, p.hang = false, true
}

// throughProxy returns a fresh PostgreSQL database's DSN, pointed at a proxy
// in front of its server. It skips without TEST_POSTGRES_DSN.
func throughProxy(t *testing.T) (*proxy, string) {
	t.Helper()
	dsn := storagetest.PostgresDSN(t)
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	p := newProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	return p, u.String()
}

// stored counts the rows stored for a method, straight from the database.
func stored(t testing.TB, db *bun.DB, method string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), `SELECT COALESCE(SUM(b.n), 0) FROM calllog_batches AS b
		JOIN calllog_methods AS m ON m.id = b.method WHERE m.name = ?`, method).Scan(&n))
	return n
}

// TestOutageLosesNothing stops the database during a burst of calls: every
// row waits in the queue and is written, once, when it returns, and the
// statistics count every call once.
func TestOutageLosesNothing(t *testing.T) {
	p, dsn := throughProxy(t)
	e := newEnv(t, openDSN(t, dsn), fast(calllog.Options{QueueSize: 10_000, BatchSize: 100}))

	require.Equal(t, 200, hit(e.reg, mOK, ""))
	require.Eventually(t, func() bool { return e.mod.Stats().Written == 1 }, 5*time.Second, 5*time.Millisecond)

	p.cut()
	const burst = 3000
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range burst / 6 {
				switch (g + i) % 3 {
				case 0:
					assert.Equal(t, 200, hit(e.reg, mOK, ""))
				case 1:
					assert.Equal(t, 400, hit(e.reg, mFail, ""))
				default:
					assert.Equal(t, 401, hit(e.reg, mAdmin, ""))
				}
			}
		})
	}
	wg.Wait()
	s := e.mod.Stats()
	assert.Equal(t, burst, s.Queued, "the burst waits in the queue")
	assert.Zero(t, s.Dropped)
	require.Eventually(t, func() bool { return contains(e.logs, "writing rows failed") }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, uint64(1), e.mod.Stats().Written, "a failed attempt writes nothing")

	p.restore()
	require.Eventually(t, func() bool { return e.mod.Stats().Queued == 0 }, 30*time.Second, 10*time.Millisecond)
	assert.Equal(t, calllog.Stats{Written: burst + 1}, e.mod.Stats())
	for id, n := range map[string]int{mOK: burst/3 + 1, mFail: burst / 3, mAdmin: burst / 3} {
		assert.Equal(t, n, stored(t, e.db, id), id)
	}
	want := map[string]tally{
		mOK:    {accepted: burst/3 + 1},
		mFail:  {accepted: burst / 3, errors: burst / 3},
		mAdmin: {declined: burst / 3},
	}
	require.Eventually(t, func() bool {
		for id, w := range want {
			if a, d, er, ex := sum(e.latest(t, id)); (tally{a, d, er, ex}) != w {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond)
	for id, w := range want {
		a, d, er, ex := sum(e.history(t, id))
		assert.Equal(t, w, tally{a, d, er, ex}, id)
	}
}

// TestFlappingLosesNothingTwice cuts every connection again and again while
// calls go on: whatever a cut interrupts, even a COMMIT whose answer is lost,
// each call ends up in the log and the statistics exactly once.
func TestFlappingLosesNothingTwice(t *testing.T) {
	p, dsn := throughProxy(t)
	e := newEnv(t, openDSN(t, dsn), fast(calllog.Options{BatchSize: 50, FlushInterval: time.Millisecond, StatsInterval: 5 * time.Millisecond}))

	// The calls drive the cuts: every 100 calls the connections are cut,
	// and restored a few calls later, while the writer (flushing every
	// millisecond) keeps trying.
	const calls = 4000
	cuts := 0
	for i := range calls {
		switch i % 100 {
		case 0:
			p.cut()
			cuts++
		case 1 + cuts%7:
			p.restore()
		}
		require.Equal(t, 200, hit(e.reg, mOK, ""))
	}
	p.restore()
	t.Logf("connections cut %d times", cuts)

	require.Eventually(t, func() bool { return e.mod.Stats().Queued == 0 }, 30*time.Second, 10*time.Millisecond)
	assert.Equal(t, calllog.Stats{Written: calls}, e.mod.Stats())
	assert.Equal(t, calls, stored(t, e.db, mOK), "no row lost, none written twice")
	require.Eventually(t, func() bool {
		a, _, _, _ := sum(e.history(t, mOK))
		return a >= calls
	}, 30*time.Second, 20*time.Millisecond)
	a, _, _, _ := sum(e.history(t, mOK))
	assert.EqualValues(t, calls, a, "statistics counted once")
	a, _, _, _ = sum(e.latest(t, mOK))
	assert.EqualValues(t, calls, a)
}

// TestOverflowIsCountedAndLogged fills a small queue while the database is
// away: what exceeds the bound is dropped, counted and logged; the rest is
// written when the database returns, and the statistics count every call.
func TestOverflowIsCountedAndLogged(t *testing.T) {
	p, dsn := throughProxy(t)
	e := newEnv(t, openDSN(t, dsn), fast(calllog.Options{QueueSize: 100, BatchSize: 10}))

	p.cut()
	for range 300 {
		require.Equal(t, 200, hit(e.reg, mOK, ""))
	}
	assert.Equal(t, calllog.Stats{Queued: 100, Dropped: 200}, e.mod.Stats())
	require.Eventually(t, func() bool {
		return contains(e.logs, "call records dropped") && contains(e.logs, "queue_size=100")
	}, 10*time.Second, 10*time.Millisecond, e.logs.String())

	p.restore()
	require.Eventually(t, func() bool { return e.mod.Stats().Queued == 0 }, 30*time.Second, 10*time.Millisecond)
	assert.Equal(t, calllog.Stats{Written: 100, Dropped: 200}, e.mod.Stats())
	assert.Equal(t, 100, stored(t, e.db, mOK))
	require.Eventually(t, func() bool { a, _, _, _ := sum(e.latest(t, mOK)); return a == 300 }, 30*time.Second, 20*time.Millisecond,
		"the statistics count the dropped rows' calls too")

	// Warnings are spaced out; Close reports the final count.
	require.NoError(t, e.mod.Close(t.Context()))
	assert.True(t, contains(e.logs, "dropped_total=200"), e.logs.String())
}

// TestCloseDuringOutage gives Close a deadline while the database is away:
// it reports and logs what it could not write.
func TestCloseDuringOutage(t *testing.T) {
	p, dsn := throughProxy(t)
	e := newEnv(t, openDSN(t, dsn), fast(calllog.Options{}))
	p.cut()
	for range 50 {
		require.Equal(t, 200, hit(e.reg, mOK, ""))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	err := e.mod.Close(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "50 rows not written")
	assert.Contains(t, err.Error(), "statistics not merged")
	assert.Equal(t, calllog.Stats{Dropped: 50}, e.mod.Stats())
	assert.True(t, contains(e.logs, "rows not written"), e.logs.String())
	p.restore()
	assert.Zero(t, stored(t, e.db, mOK))
}

func contains(b *logbuf.Buffer, s string) bool { return strings.Contains(b.String(), s) }

// TestCloseWhenServerHangs: with a server that accepts connections and never
// answers, Close still returns when its context ends, and says what it lost.
func TestCloseWhenServerHangs(t *testing.T) {
	p, dsn := throughProxy(t)
	e := newEnv(t, openDSN(t, dsn), fast(calllog.Options{}))
	require.Equal(t, 200, hit(e.reg, mOK, ""))
	require.Eventually(t, func() bool { return e.mod.Stats().Written == 1 }, 5*time.Second, 5*time.Millisecond)
	p.blackHole()
	for range 20 {
		require.Equal(t, 200, hit(e.reg, mOK, ""))
	}
	require.Eventually(t, func() bool { return p.held() > 0 }, 5*time.Second, 5*time.Millisecond, "the writer is stuck on a silent connection")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := e.mod.Close(ctx) // returns although the writer is stuck, since its context has ended
	require.Error(t, err)
	assert.Contains(t, err.Error(), "20 rows not written")
	assert.Equal(t, calllog.Stats{Written: 1, Dropped: 20}, e.mod.Stats())
	p.restore()
}

// TestHungServerRecovers: a server that stops answering without closing the
// connections holds the writer up for one write timeout at a time; when it
// answers again, every queued row is written.
func TestHungServerRecovers(t *testing.T) {
	p, dsn := throughProxy(t)
	e := newEnv(t, openDSN(t, dsn), calllog.WithWriteTimeout(fast(calllog.Options{}), 300*time.Millisecond))
	p.blackHole()
	for range 20 {
		require.Equal(t, 200, hit(e.reg, mOK, ""))
	}
	require.Eventually(t, func() bool { return contains(e.logs, "writing rows failed") }, 10*time.Second, 10*time.Millisecond, "the write times out")
	assert.Equal(t, 20, e.mod.Stats().Queued)
	p.restore()
	require.Eventually(t, func() bool { return e.mod.Stats().Written == 20 }, 20*time.Second, 10*time.Millisecond)
	assert.Equal(t, 20, stored(t, e.db, mOK))
	require.Eventually(t, func() bool { a, _, _, _ := sum(e.latest(t, mOK)); return a == 20 }, 20*time.Second, 10*time.Millisecond)
}
