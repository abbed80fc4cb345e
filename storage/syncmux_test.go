package storage_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// tokenTable stands for the token tables that all instances read.
type tokenTable struct {
	mu     sync.Mutex
	byHash map[string]auth.Principal
}

func (tt *tokenTable) issue(t *testing.T, kind auth.Kind, p auth.Principal) string {
	t.Helper()
	plain, digest, err := auth.NewToken(kind)
	require.NoError(t, err)
	p.Kind = kind
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if tt.byHash == nil {
		tt.byHash = make(map[string]auth.Principal)
	}
	tt.byHash[string(digest)] = p
	return plain
}

func (tt *tokenTable) setPermissions(token string, perms map[string]bool) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	p := tt.byHash[string(auth.Digest(token))]
	p.Permissions = perms
	tt.byHash[string(auth.Digest(token))] = p
}

// instance is one copy of the service: a Mux whose authenticator counts
// the lookups it makes.
type instance struct {
	mux   *auth.Mux
	calls atomic.Int64
}

func newInstance(tt *tokenTable) *instance {
	in := &instance{mux: auth.NewMux(auth.MuxOptions{})}
	a := auth.AuthenticatorFunc(func(_ context.Context, token string) (*auth.Principal, error) {
		in.calls.Add(1)
		tt.mu.Lock()
		defer tt.mu.Unlock()
		p, ok := tt.byHash[string(auth.Digest(token))]
		if !ok {
			return nil, auth.ErrUnknownToken
		}
		return &p, nil
	})
	in.mux.Handle(auth.KindSession, a)
	in.mux.Handle(auth.KindAPIToken, a)
	return in
}

// lookups authenticates token n times and returns how many of those the
// authenticator answered.
func (in *instance) lookups(t *testing.T, token string, n int) int64 {
	t.Helper()
	before := in.calls.Load()
	for range n {
		p, err := in.mux.Authenticate(t.Context(), token)
		require.NoError(t, err)
		require.NotNil(t, p)
	}
	return in.calls.Load() - before
}

// refetchedWithin polls until in asks its authenticator about token again,
// which it does once its cached entry is gone, and returns how long after
// since that was.
func (in *instance) refetchedWithin(t *testing.T, token string, since time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	for {
		if in.lookups(t, token, 1) == 1 {
			return time.Since(since)
		}
		if time.Since(since) > timeout {
			t.Fatalf("still cached after %v", timeout)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// TestSyncMuxPostgres runs two instances, each a Mux shared through its own
// Sync, on one PostgreSQL database.
func TestSyncMuxPostgres(t *testing.T) {
	dsn := storagetest.PostgresDSN(t)
	dbA := openPostgres(t, dsn)
	p, proxied := startProxy(t, dsn) // B reaches the server through it
	syncA := newSync(t, dbA, storage.SyncOptions{ApplicationName: "mux_a"})
	syncB := newSync(t, openPostgres(t, proxied), storage.SyncOptions{
		ApplicationName: "mux_b", MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	})

	var tt tokenTable
	a, b := newInstance(&tt), newInstance(&tt)
	a.mux.Share(syncA.Channel("auth"))
	b.mux.Share(syncB.Channel("auth"))
	bState := watch(syncB.Channel("auth")) // after Share: told after the Mux is
	bState.until(t, true, 5*time.Second)
	require.Eventually(t, syncA.Listening, 5*time.Second, time.Millisecond)

	ann := tt.issue(t, auth.KindSession, auth.Principal{UserID: 5, TokenID: 1})
	bob := tt.issue(t, auth.KindAPIToken, auth.Principal{UserID: 6, TokenID: 3})
	for _, in := range []*instance{a, b} {
		assert.EqualValues(t, 1, in.lookups(t, ann, 3), "cached")
		assert.EqualValues(t, 1, in.lookups(t, bob, 3), "cached")
	}

	// A user changed on A: A drops its entries at once, B within the bound.
	start := time.Now()
	a.mux.Invalidate(auth.Invalidation{UserID: 5})
	assert.EqualValues(t, 1, a.lookups(t, ann, 2))
	took := b.refetchedWithin(t, ann, start, bound)
	t.Logf("user invalidation on A seen by B after %v", took)
	assert.Zero(t, b.lookups(t, bob, 1), "another user's entry stays")

	// A token changed on B: the other way round.
	start = time.Now()
	b.mux.Invalidate(auth.Invalidation{Kind: auth.KindAPIToken, TokenID: 3})
	took = a.refetchedWithin(t, bob, start, bound)
	t.Logf("token invalidation on B seen by A after %v", took)
	assert.Zero(t, a.lookups(t, ann, 1))

	// B's notification connection dies and the server stays out of B's
	// reach: B reads through for as long as it cannot listen, and so sees
	// the changes whose invalidations it misses.
	p.refuse.Store(true)
	terminate(t, dbA, listenPID(t, dbA, "mux_b"))
	v, _ := bState.next(t, time.Now(), bound)
	require.False(t, v)
	assert.EqualValues(t, 3, b.lookups(t, ann, 3), "not listening: every call reads through")
	assert.Zero(t, b.mux.Len())

	tt.setPermissions(ann, map[string]bool{"admin": true})
	a.mux.Invalidate(auth.Invalidation{UserID: 5}) // lost on B's side
	pb, err := b.mux.Authenticate(t.Context(), ann)
	require.NoError(t, err)
	assert.True(t, pb.Has("admin"))

	time.Sleep(200 * time.Millisecond) // B keeps trying meanwhile
	assert.EqualValues(t, 2, b.lookups(t, bob, 2), "still not listening")

	// The server is back: B listens again and caches again.
	p.refuse.Store(false)
	v, took = bState.next(t, time.Now(), 5*time.Second)
	require.True(t, v)
	t.Logf("B listening again %v after the server came back", took)
	assert.EqualValues(t, 1, b.lookups(t, ann, 3), "caching again")
	assert.EqualValues(t, 1, b.lookups(t, bob, 3), "caching again")

	start = time.Now()
	a.mux.Invalidate(auth.Invalidation{UserID: 5})
	took = b.refetchedWithin(t, ann, start, bound)
	t.Logf("after the reconnect, user invalidation on A seen by B after %v", took)
}

// TestSyncMuxSQLite: one process, two Muxes on one Sync (say, two
// registries): invalidations reach the other before Invalidate returns.
func TestSyncMuxSQLite(t *testing.T) {
	s := newSync(t, storagetest.SQLite(t), storage.SyncOptions{})
	var tt tokenTable
	a, b := newInstance(&tt), newInstance(&tt)
	a.mux.Share(s.Channel("auth"))
	b.mux.Share(s.Channel("auth"))
	ann := tt.issue(t, auth.KindSession, auth.Principal{UserID: 5, TokenID: 1})
	for _, in := range []*instance{a, b} {
		assert.EqualValues(t, 1, in.lookups(t, ann, 3), "cached")
	}
	a.mux.Invalidate(auth.Invalidation{Kind: auth.KindSession, TokenID: 1})
	assert.EqualValues(t, 1, a.lookups(t, ann, 2))
	assert.EqualValues(t, 1, b.lookups(t, ann, 2))
}
