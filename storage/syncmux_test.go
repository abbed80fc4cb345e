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
	"github.com/authrpc/authrpc/internal/fakeclock"
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
// the lookups it makes, and which tells each invalidation its cache
// applies.
type instance struct {
	mux         *auth.Mux
	calls       atomic.Int64
	invalidated chan auth.Invalidation
}

func newInstance(tt *tokenTable) *instance {
	in := &instance{mux: auth.NewMux(auth.MuxOptions{}), invalidated: make(chan auth.Invalidation, 100)}
	in.mux.OnInvalidate(func(inv auth.Invalidation) { in.invalidated <- inv })
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

// applied waits until in's cache has applied want (its own, or one from
// another instance), skipping any other, and returns how long after since
// that was.
func (in *instance) applied(t *testing.T, want auth.Invalidation, since time.Time) time.Duration {
	t.Helper()
	deadline := time.After(eventWait)
	for {
		select {
		case inv := <-in.invalidated:
			if inv == want {
				return time.Since(since)
			}
		case <-deadline:
			t.Fatalf("invalidation %+v not applied within %v", want, eventWait)
		}
	}
}

// TestSyncMuxPostgres runs two instances, each a Mux shared through its own
// Sync, on one PostgreSQL database.
func TestSyncMuxPostgres(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	dbA := openPostgres(t, dsn)
	p, proxied := startProxy(t, dsn) // B reaches the server through it
	syncA := newSync(t, dbA, storage.SyncOptions{ApplicationName: "mux_a"})
	clock := fakeclock.New()
	syncB := newSync(t, openPostgres(t, proxied), storage.SyncOptions{
		ApplicationName: "mux_b", MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, After: clock.After,
	})

	var tt tokenTable
	a, b := newInstance(&tt), newInstance(&tt)
	a.mux.Share(syncA.Channel("auth"))
	b.mux.Share(syncB.Channel("auth"))
	bState := watch(syncB.Channel("auth")) // after Share: told after the Mux is
	bState.until(t, true, eventWait)
	watch(syncA.Channel("auth")).until(t, true, eventWait)

	ann := tt.issue(t, auth.KindSession, auth.Principal{UserID: 5, TokenID: 1})
	bob := tt.issue(t, auth.KindAPIToken, auth.Principal{UserID: 6, TokenID: 3})
	for _, in := range []*instance{a, b} {
		assert.EqualValues(t, 1, in.lookups(t, ann, 3), "cached")
		assert.EqualValues(t, 1, in.lookups(t, bob, 3), "cached")
	}

	// A user changed on A: A drops its entries at once, B once the
	// invalidation reaches it.
	start := time.Now()
	user5 := auth.Invalidation{UserID: 5}
	a.mux.Invalidate(user5)
	assert.EqualValues(t, 1, a.lookups(t, ann, 2))
	t.Logf("user invalidation on A applied by B after %v", b.applied(t, user5, start))
	assert.EqualValues(t, 1, b.lookups(t, ann, 2), "B asks again, once")
	assert.Zero(t, b.lookups(t, bob, 1), "another user's entry stays")

	// A token changed on B: the other way round.
	start = time.Now()
	token3 := auth.Invalidation{Kind: auth.KindAPIToken, TokenID: 3}
	b.mux.Invalidate(token3)
	t.Logf("token invalidation on B applied by A after %v", a.applied(t, token3, start))
	assert.EqualValues(t, 1, a.lookups(t, bob, 2), "A asks again, once")
	assert.Zero(t, a.lookups(t, ann, 1))

	// B's notification connection dies and the server stays out of B's
	// reach: B reads through for as long as it cannot listen, and so sees
	// the changes whose invalidations it misses.
	p.refuse.Store(true)
	terminate(t, dbA, listenPID(t, dbA, "mux_b"))
	v, _ := bState.next(t, time.Now(), eventWait)
	require.False(t, v)
	assert.EqualValues(t, 3, b.lookups(t, ann, 3), "not listening: every call reads through")
	assert.Zero(t, b.mux.Len())

	tt.setPermissions(ann, map[string]bool{"admin": true})
	a.mux.Invalidate(auth.Invalidation{UserID: 5}) // lost on B's side
	pb, err := b.mux.Authenticate(t.Context(), ann)
	require.NoError(t, err)
	assert.True(t, pb.Has("admin"))

	for range 3 { // B keeps trying meanwhile, in vain
		clock.Next(t)
	}
	clock.Waits(t, 1)
	assert.EqualValues(t, 2, b.lookups(t, bob, 2), "still not listening")

	// The server is back: B listens again and caches again.
	p.refuse.Store(false)
	clock.Next(t)
	v, _ = bState.next(t, time.Now(), eventWait)
	require.True(t, v)
	assert.EqualValues(t, 1, b.lookups(t, ann, 3), "caching again")
	assert.EqualValues(t, 1, b.lookups(t, bob, 3), "caching again")

	start = time.Now()
	a.mux.Invalidate(user5)
	t.Logf("after the reconnect, user invalidation on A applied by B after %v", b.applied(t, user5, start))
	assert.EqualValues(t, 1, b.lookups(t, ann, 2), "B asks again, once")
}

// TestSyncMuxSQLite: one process, two Muxes on one Sync (say, two
// registries): invalidations reach the other before Invalidate returns.
func TestSyncMuxSQLite(t *testing.T) {
	t.Parallel()
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
