package storage_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/authrpc/authrpc/internal/fakeclock"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// eventWait bounds the wait for an event that takes milliseconds (a
// message or a state change between instances): generous, so that only a
// broken Sync runs it out, however loaded the machine. How long an
// invalidation takes from one instance to another is measured by
// BenchmarkInvalidationLatency (pubsub/natspubsub), on PostgreSQL and NATS.
const eventWait = 10 * time.Second

func TestSyncChannelNames(t *testing.T) {
	t.Parallel()
	s := newSync(t, storagetest.SQLite(t), storage.SyncOptions{})
	for _, name := range []string{"a", "auth", "settings_v2", strings.Repeat("x", 32)} {
		c := s.Channel(name)
		assert.Equal(t, name, c.Name())
		assert.Same(t, c, s.Channel(name), "one channel per name")
	}
	for _, name := range []string{"", "Auth", "1auth", "_auth", "au th", "auth-x", "auth;", "authé", strings.Repeat("x", 33)} {
		assert.Panics(t, func() { s.Channel(name) }, "name %q", name)
	}
	assert.Panics(t, func() { s.Channel("a").Subscribe(nil) })
	assert.Panics(t, func() { s.Channel("a").OnState(nil) })
}

func TestSyncSQLite(t *testing.T) {
	t.Parallel()
	db := storagetest.SQLite(t)
	s := newSync(t, db, storage.SyncOptions{})
	assert.True(t, s.Listening())

	auth, settings := s.Channel("auth"), s.Channel("settings")
	var got []string
	auth.Subscribe(func(p string) { got = append(got, "1:"+p) })
	auth.Subscribe(func(p string) { got = append(got, "2:"+p) })
	settings.Subscribe(func(p string) { got = append(got, "settings:"+p) })
	var states []bool
	auth.OnState(func(l bool) { states = append(states, l) })
	assert.Equal(t, []bool{true}, states, "the current state, at once")

	// Synchronous: delivered before Publish returns, to every subscriber of
	// that channel and no other.
	require.NoError(t, auth.Publish(t.Context(), "u:12"))
	assert.Equal(t, []string{"1:u:12", "2:u:12"}, got)
	require.NoError(t, settings.Publish(t.Context(), ""))
	assert.Equal(t, []string{"1:u:12", "2:u:12", "settings:"}, got)

	// Another Sync on the same database is another process's business:
	// SQLite carries nothing between them.
	other := newSync(t, db, storage.SyncOptions{})
	require.NoError(t, other.Channel("auth").Publish(t.Context(), "*"))
	assert.Len(t, got, 3)

	// Close stops nothing that SQLite needs: still listening, still delivered.
	require.NoError(t, s.Close(context.Background()))
	require.NoError(t, s.Close(context.Background()))
	assert.True(t, s.Listening())
	require.NoError(t, auth.Publish(t.Context(), "*"))
	assert.Equal(t, []string{"1:u:12", "2:u:12", "settings:", "1:*", "2:*"}, got)
	assert.Equal(t, []bool{true}, states)
}

func TestSyncPayloadLimits(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		s := newSync(t, db, storage.SyncOptions{})
		c := s.Channel("limits")
		local := subscribe(c)

		for _, bad := range []string{
			"nul\x00byte",
			"bad utf-8 \xff",
		} {
			err := c.Publish(t.Context(), bad)
			assert.ErrorContains(t, err, "storage: sync: publish on limits:")
		}
		assert.Empty(t, local.ch, "a refused payload goes nowhere")

		for _, good := range []string{"", strings.Repeat("é", storage.MaxInlinePayload/2), strings.Repeat("x", storage.MaxInlinePayload), strings.Repeat("x", 1<<20)} {
			require.NoError(t, c.Publish(t.Context(), good))
			assert.Equal(t, good, local.next(t, 0).payload)
		}
	})
}

// TestSyncPostgresPropagation: what one instance publishes reaches the
// others, intact, on its own channel only, and not back to itself a second
// time.
func TestSyncPostgresPropagation(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	a := newSync(t, openPostgres(t, dsn), storage.SyncOptions{})
	b := newSync(t, openPostgres(t, dsn), storage.SyncOptions{})

	aAuth := subscribe(a.Channel("auth"))
	bAuth := subscribe(b.Channel("auth"))
	bSettings := subscribe(b.Channel("settings"))
	b.Channel("other").Subscribe(func(p string) { t.Errorf("other got %q", p) })
	for _, s := range []*storage.Sync{a, b} {
		for _, name := range []string{"auth", "settings"} {
			watch(s.Channel(name)).until(t, true, eventWait)
		}
	}

	const rounds = 50
	for i := range rounds {
		payload := fmt.Sprintf("u:%d", i)
		require.NoError(t, a.Channel("auth").Publish(t.Context(), payload))
		// The publisher's own subscribers have it before Publish returns.
		select {
		case m := <-aAuth.ch:
			assert.Equal(t, payload, m.payload)
		default:
			t.Fatal("local delivery was not synchronous")
		}
		assert.Equal(t, payload, bAuth.next(t, eventWait).payload, "in order")
	}

	// Payloads arrive as sent, up to the limit.
	for _, payload := range []string{"", `it's "quoted" \ and $1 ?`, "ünïcødé ✓", strings.Repeat("y", storage.MaxInlinePayload)} {
		require.NoError(t, a.Channel("settings").Publish(t.Context(), payload))
		assert.Equal(t, payload, bSettings.next(t, eventWait).payload)
	}

	// Messages go both ways. B's publish was sent after A's last one, and
	// PostgreSQL delivers in commit order, so had A's own NOTIFYs come back
	// to A's subscribers, they would be in its inbox by now.
	require.NoError(t, b.Channel("auth").Publish(t.Context(), "from b"))
	assert.Equal(t, "from b", bAuth.next(t, 0).payload)
	assert.Equal(t, "from b", aAuth.next(t, eventWait).payload)
	assert.Empty(t, aAuth.ch)
	assert.Empty(t, bSettings.ch)
}

// TestSyncPostgresBigPayloads: payloads over the NOTIFY limit reach the
// other instances through the table, in order with the small ones, and
// are removed from it once older than the retention.
func TestSyncPostgresBigPayloads(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	db := openPostgres(t, dsn)
	a := newSync(t, db, storage.SyncOptions{})
	b := newSync(t, openPostgres(t, dsn), storage.SyncOptions{})
	aIn, bIn := subscribe(a.Channel("events")), subscribe(b.Channel("events"))
	watch(b.Channel("events")).until(t, true, eventWait)

	sizes := []int{storage.MaxInlinePayload, storage.MaxInlinePayload + 1, 64 << 10, 10, 4 << 20}
	for i, n := range sizes {
		payload := fmt.Sprint(i) + strings.Repeat("é", (n-1)/2) + strings.Repeat("x", (n-1)%2)
		require.NoError(t, a.Channel("events").Publish(t.Context(), payload))
		assert.Equal(t, payload, aIn.next(t, 0).payload, "delivered here within Publish")
		m := bIn.next(t, eventWait)
		require.Equal(t, len(payload), len(m.payload))
		assert.True(t, m.payload == payload, "payload %d arrived intact", i)
	}
	assert.Empty(t, aIn.ch, "not delivered twice")

	var stored int
	require.NoError(t, db.NewRaw("SELECT count(*) FROM authrpc_sync_payloads").Scan(t.Context(), &stored))
	assert.Equal(t, 3, stored, "the big ones wait in the table")

	// A Sync whose retention has passed for all of them removes them with
	// its own big Publish, and keeps that one.
	c := newSync(t, db, storage.SyncOptions{PayloadRetention: time.Nanosecond})
	big := strings.Repeat("z", 10000)
	require.NoError(t, c.Channel("events").Publish(t.Context(), big))
	assert.Equal(t, big, bIn.next(t, eventWait).payload)
	assert.Equal(t, big, aIn.next(t, eventWait).payload)
	require.NoError(t, db.NewRaw("SELECT count(*) FROM authrpc_sync_payloads").Scan(t.Context(), &stored))
	assert.Equal(t, 1, stored)

	// A stored payload that is gone before it is read is a gap: the
	// channel stops listening for a moment, so that caches start afresh.
	st := watch(b.Channel("events"))
	st.until(t, true, eventWait)
	_, err := db.ExecContext(t.Context(), "SELECT pg_notify('authrpc_events', '0123456789abcdef#999999')")
	require.NoError(t, err)
	v, _ := st.next(t, time.Now(), eventWait)
	assert.False(t, v)
	v, _ = st.next(t, time.Now(), eventWait)
	assert.True(t, v)
	assert.Empty(t, bIn.ch)
}

// TestSyncPrefixedPayloads: under a channel prefix, the table is prefixed
// too, and big payloads still travel.
func TestSyncPrefixedPayloads(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	db := openPostgres(t, dsn)
	a := newSync(t, db, storage.SyncOptions{ChannelPrefix: "app_"})
	b := newSync(t, openPostgres(t, dsn), storage.SyncOptions{ChannelPrefix: "app_"})
	in := subscribe(b.Channel("events"))
	watch(b.Channel("events")).until(t, true, eventWait)
	big := strings.Repeat("p", 20000)
	require.NoError(t, a.Channel("events").Publish(t.Context(), big))
	assert.Equal(t, big, in.next(t, eventWait).payload)
	var stored int
	require.NoError(t, db.NewRaw("SELECT count(*) FROM app_authrpc_sync_payloads").Scan(t.Context(), &stored))
	assert.Equal(t, 1, stored)
	var exists bool
	require.NoError(t, db.NewRaw("SELECT to_regclass('authrpc_sync_payloads') IS NOT NULL").Scan(t.Context(), &exists))
	assert.False(t, exists, "no unprefixed table")
}

// TestSyncPostgresForeignNotify: a NOTIFY not sent by a Sync (an operator's)
// is delivered as it is.
func TestSyncPostgresForeignNotify(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	db := openPostgres(t, dsn)
	s := newSync(t, db, storage.SyncOptions{})
	c := s.Channel("auth")
	in := subscribe(c)
	watch(c).until(t, true, eventWait)
	for _, payload := range []string{"*", "0123456789abcdef", "0123456789abcdeX:u:1"} {
		_, err := db.ExecContext(t.Context(), "SELECT pg_notify('authrpc_auth', ?)", payload)
		require.NoError(t, err)
		assert.Equal(t, payload, in.next(t, eventWait).payload)
	}
}

// TestSyncPostgresSubscribeLater: a channel subscribed while the listener
// waits gets LISTENed on at once.
func TestSyncPostgresSubscribeLater(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	a := newSync(t, openPostgres(t, dsn), storage.SyncOptions{PingInterval: time.Hour})
	b := newSync(t, openPostgres(t, dsn), storage.SyncOptions{PingInterval: time.Hour})
	assert.True(t, b.Listening(), "no channel yet: nothing to miss")
	// Once a channel is reported listening, the listener waits for
	// notifications (or is about to, and then wakes at once).
	watch(b.Channel("zero")).until(t, true, eventWait)

	for _, name := range []string{"one", "two", "three"} {
		c := b.Channel(name)
		st := watch(c)
		v, _ := st.next(t, time.Now(), 0)
		require.False(t, v, "starts not listening")
		in := subscribe(c)
		v, _ = st.next(t, time.Now(), eventWait)
		require.True(t, v, "the waiting listener LISTENs on it, although pings are an hour apart")
		assert.True(t, b.Listening())
		require.NoError(t, a.Channel(name).Publish(t.Context(), name))
		assert.Equal(t, name, in.next(t, eventWait).payload)
	}
}

// TestSyncPostgresReconnect kills the notification connection's backend:
// the state goes false at once (pings are an hour apart: the broken
// connection itself tells), true again after a reconnect, and messages
// flow again.
func TestSyncPostgresReconnect(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	adminDB := openPostgres(t, dsn)
	a := newSync(t, adminDB, storage.SyncOptions{ApplicationName: "sync_a"})
	clock := fakeclock.New()
	b := newSync(t, openPostgres(t, dsn), storage.SyncOptions{
		ApplicationName: "sync_b", PingInterval: time.Hour, After: clock.After,
		// A connection must last MaxBackoff to count as stable: these
		// never do, so the waits double from one round to the next.
		MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Hour,
	})
	c := b.Channel("auth")
	in := subscribe(c)
	st := watch(c)
	st.until(t, true, eventWait)

	pid := listenPID(t, adminDB, "sync_b")
	for round := range 3 {
		start := time.Now()
		terminate(t, adminDB, pid)
		v, took := st.next(t, start, eventWait)
		require.False(t, v)
		backoff := 50 * time.Millisecond << round
		waited := clock.Next(t) // the back-off before reconnecting
		assert.True(t, waited >= backoff/2 && waited <= backoff, "round %d: waited %v, want half of %v to all of it", round, waited, backoff)
		v, back := st.next(t, start, eventWait)
		require.True(t, v)
		t.Logf("round %d: killed; not listening after %v, listening again %v later", round, took, back-took)
		assert.True(t, b.Listening())

		newPID := listenPID(t, adminDB, "sync_b")
		assert.NotEqual(t, pid, newPID)
		pid = newPID

		payload := fmt.Sprint("after kill ", round)
		require.NoError(t, a.Channel("auth").Publish(t.Context(), payload))
		assert.Equal(t, payload, in.next(t, eventWait).payload)
	}
	assert.Empty(t, in.ch)
}

// TestSyncPostgresHeldDown: while the server cannot be reached the Sync
// stays not listening and keeps trying, waiting longer each time; when it
// can, it listens again.
func TestSyncPostgresHeldDown(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	adminDB := openPostgres(t, dsn)
	a := newSync(t, adminDB, storage.SyncOptions{})
	p, proxied := startProxy(t, dsn)
	clock := fakeclock.New()
	b := newSync(t, openPostgres(t, proxied), storage.SyncOptions{
		ApplicationName: "sync_b", MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, After: clock.After,
	})
	c := b.Channel("auth")
	in := subscribe(c)
	st := watch(c)
	st.until(t, true, eventWait)

	p.refuse.Store(true)
	terminate(t, adminDB, listenPID(t, adminDB, "sync_b"))
	v, _ := st.next(t, time.Now(), eventWait)
	require.False(t, v)
	// Several attempts, all refused: every wait after the first follows a
	// failed attempt. The waits double up to MaxBackoff, with jitter.
	for i := range 6 {
		backoff := min(10*time.Millisecond<<i, 100*time.Millisecond)
		waited := clock.Next(t)
		assert.True(t, waited >= backoff/2 && waited <= backoff, "wait %d: %v, want half of %v to all of it", i, waited, backoff)
	}
	clock.Waits(t, 1) // the sixth attempt failed too
	assert.GreaterOrEqual(t, p.refused.Load(), int32(6))
	assert.False(t, b.Listening())
	assert.Empty(t, st.ch)

	p.refuse.Store(false)
	clock.Next(t)
	v, _ = st.next(t, time.Now(), eventWait)
	require.True(t, v)
	require.NoError(t, a.Channel("auth").Publish(t.Context(), "back"))
	assert.Equal(t, "back", in.next(t, eventWait).payload)
}

// TestSyncPostgresSilentNetwork: a connection that the network drops
// without a word is found out by the ping, and replaced.
func TestSyncPostgresSilentNetwork(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	a := newSync(t, openPostgres(t, dsn), storage.SyncOptions{})
	p, proxied := startProxy(t, dsn)
	clock := fakeclock.New()
	b := newSync(t, openPostgres(t, proxied), storage.SyncOptions{PingInterval: 200 * time.Millisecond, After: clock.After})
	c := b.Channel("auth")
	in := subscribe(c)
	st := watch(c)
	st.until(t, true, eventWait)

	start := time.Now()
	p.blackhole()
	v, took := st.next(t, start, eventWait)
	require.False(t, v)
	t.Logf("silent connection found out after %v (ping interval 200ms)", took)
	clock.Next(t) // the back-off before reconnecting
	v, _ = st.next(t, start, eventWait)
	require.True(t, v)
	require.NoError(t, a.Channel("auth").Publish(t.Context(), "through"))
	assert.Equal(t, "through", in.next(t, eventWait).payload)
}

// TestSyncClose: Close stops the goroutine and the connection, reports not
// listening, and leaves Publish working; nothing leaks.
func TestSyncClose(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		other := newSync(t, db, storage.SyncOptions{}) // another instance
		otherIn := subscribe(other.Channel("auth"))
		watch(other.Channel("auth")).until(t, true, eventWait)

		baseline := runtime.NumGoroutine()
		for range 5 {
			s := newSync(t, db, storage.SyncOptions{})
			c := s.Channel("auth")
			in := subscribe(c)
			st := watch(c)
			st.until(t, true, eventWait)
			require.NoError(t, c.Publish(t.Context(), "x"))
			assert.Equal(t, "x", in.next(t, 0).payload)

			require.NoError(t, s.Close(context.Background()))
			assert.Equal(t, !storage.IsPostgres(db), s.Listening())
			if storage.IsPostgres(db) {
				v, _ := st.next(t, time.Now(), 0) // reported before Close returned
				assert.False(t, v)
				assert.Equal(t, "x", otherIn.next(t, eventWait).payload)
			}
			require.NoError(t, s.Close(context.Background()))

			// Publishing after Close still reaches this process and the others.
			require.NoError(t, c.Publish(t.Context(), "y"))
			assert.Equal(t, "y", in.next(t, 0).payload)
			if storage.IsPostgres(db) {
				assert.Equal(t, "y", otherIn.next(t, eventWait).payload)
			}
		}

		// The Syncs' goroutines are gone, and so are pgx's for their
		// connections (database/sql's pool may still close idle ones).
		running := 0 // the other instance's
		if storage.IsPostgres(db) {
			running = 1
		}
		// Polled here: require.Eventually would add goroutines of its own.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if runtime.NumGoroutine() <= baseline && strings.Count(stacks(), "storage.(*Sync).run(") == running {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("goroutines: %d, was %d\n%s", runtime.NumGoroutine(), baseline, stacks())
			}
		}
		if storage.IsPostgres(db) {
			listenPID(t, db, "authrpc_sync") // only the other instance's connection is left
		}
	})
}

func stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

func TestSyncNeedsPgx(t *testing.T) {
	t.Parallel()
	_, err := storage.NewSync(t.Context(), nil, storage.SyncOptions{})
	assert.ErrorContains(t, err, "storage: sync: nil db")

	// PostgreSQL's dialect over another driver: the Sync cannot get at pgx.
	sqlite := storagetest.SQLite(t)
	db := bun.NewDB(sqlite.DB, pgdialect.New())
	_, err = storage.NewSync(t.Context(), db, storage.SyncOptions{})
	assert.ErrorContains(t, err, "not pgx's")
}
