package health_test

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/health"
	"github.com/authrpc/authrpc/internal/fakeclock"
	"github.com/authrpc/authrpc/internal/tcpproxy"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// service is a registry with a call log and a channel between instances
// on a database, and the readiness a host composes of them.
type service struct {
	c     *rpctest.Client
	calls *calllog.Module
	ready *health.Readiness
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newService mounts the call log on db (with clk, and writes every 10 ms)
// and a Sync on syncDB, and composes the four checks of a host.
func newService(t *testing.T, db, syncDB *bun.DB, clk *fakeclock.Clock) *service {
	t.Helper()
	ctx := t.Context()
	reg := rpc.New(rpc.Options{Logger: quiet, Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Admin"})})
	reg.Section("/v1/t", "Tests").Register(rpc.Method{ID: "ok", Title: "OK", Permissions: []string{auth.Anyone},
		Handler: func(context.Context) error { return nil }})
	calls, err := calllog.Mount(ctx, reg, db, calllog.Options{Now: clk.Now, FlushInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	sync, err := storage.NewSync(ctx, syncDB, storage.SyncOptions{Logger: quiet, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	require.NoError(t, err)
	reg.Auth().Share(sync.Channel("auth"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = reg.Shutdown(ctx)
		_ = sync.Close(ctx)
	})
	applied, err := storage.ReadApplied(ctx, db)
	require.NoError(t, err)
	ready := health.NewReadiness(health.Options{Logger: quiet},
		health.Check{Name: "database", Func: health.Ping(db)},
		health.Check{Name: "migrations", Func: func(ctx context.Context) error { return applied.Check(ctx, db) }},
		health.Check{Name: "channel", Func: health.Listening(sync)},
		health.Check{Name: "call_log", Func: calls.Ready},
	)
	return &service{c: rpctest.New(reg), calls: calls, ready: ready}
}

// proxied opens a fresh PostgreSQL database through a proxy that the test
// can cut.
func proxied(t *testing.T) (*bun.DB, *tcpproxy.Proxy) {
	t.Helper()
	u, err := url.Parse(storagetest.PostgresDSN(t))
	require.NoError(t, err)
	p := tcpproxy.New(t, u.Host)
	u.Host = p.Addr()
	db, err := storage.Open(t.Context(), u.String(), storage.WithMaxOpenConns(4), storage.WithConnectTimeout(2*time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db, p
}

// waitFailing polls the readiness until exactly the named checks fail.
func (s *service) waitFailing(t *testing.T, names ...string) answer {
	t.Helper()
	slices.Sort(names)
	var a answer
	require.Eventually(t, func() bool {
		a = get(t, s.ready)
		got := a.failing()
		slices.Sort(got)
		return slices.Equal(got, names)
	}, 30*time.Second, 20*time.Millisecond, "want failing %v; last answer %s", names, a.Raw)
	if len(names) == 0 {
		assert.Equal(t, 200, a.Code)
	} else {
		assert.Equal(t, 503, a.Code)
	}
	return a
}

// With PostgreSQL cut off, readiness fails naming the database, the
// migrations and the channel, and, once the clock passes StallAfter with
// rows queued, the call log; it passes again when the network is back.
func TestReadinessDatabaseOutage(t *testing.T) {
	t.Parallel()
	db, p := proxied(t)
	clk := fakeclock.New()
	s := newService(t, db, db, clk)
	s.waitFailing(t)

	p.Cut()
	require.Equal(t, 200, s.c.Post(t, "/v1/t/ok", ``).HTTP, "calls need no database")
	require.Positive(t, s.calls.Stats().Queued)
	s.waitFailing(t, "database", "migrations", "channel")
	assert.NoError(t, s.calls.Ready(t.Context()), "queued rows wait for less than StallAfter on the clock")

	clk.Advance(calllog.DefaultStallAfter + time.Second)
	s.waitFailing(t, "database", "migrations", "channel", "call_log")
	var stalled *calllog.StalledError
	require.ErrorAs(t, s.calls.Ready(t.Context()), &stalled)
	assert.Positive(t, stalled.Queued)

	p.Restore()
	s.waitFailing(t)
	assert.Zero(t, s.calls.Stats().Queued, "the queued rows were written")
}

// The channel's check fails while the channel alone is cut off.
func TestReadinessChannelNotListening(t *testing.T) {
	t.Parallel()
	db := storagetest.Postgres(t)
	syncDB, p := proxied(t)
	s := newService(t, db, syncDB, fakeclock.New())
	s.waitFailing(t)

	p.Cut()
	s.waitFailing(t, "channel")
	p.Restore()
	s.waitFailing(t)
}

// The migrations' check fails while the database lacks one that this
// process applied (a restored backup, another database behind the address).
func TestReadinessMigrations(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		s := newService(t, db, db, fakeclock.New())
		s.waitFailing(t)

		ctx := t.Context()
		_, err := db.NewDelete().Table("authrpc_migrations").Where("module = 'calllog' AND version = 4").Exec(ctx)
		require.NoError(t, err)
		s.waitFailing(t, "migrations")
		_, err = db.ExecContext(ctx, "INSERT INTO authrpc_migrations (module, version, name, applied_at) VALUES ('calllog', 4, 'restored', ?)", time.Now().UTC())
		require.NoError(t, err)
		s.waitFailing(t)
	})
}
