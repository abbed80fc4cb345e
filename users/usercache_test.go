package users_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// withQueryHooks tells the module that its database records queries, so
// that every read of the users table is seen.
func withQueryHooks(o *users.Options) { o.QueryHooks = true }

// The caller's own record is kept by the module: profile/read and signin
// without credentials ask the table once, and again only after a change to
// the user, which the instance that made it answers at once; while the
// auth cache does not cache, every read asks the table.
func TestOwnRecordIsKept(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		hooked, queries := storagetest.RecordQueries(db)
		e := newEnv(t, hooked, withQueryHooks)
		root := e.root(t)
		e.create(t, root, "gail", "gail-password", nil)
		tok := e.signin(t, "gail", "gail-password")
		reads := func() int { return len(queries.Naming("users")) }

		e.profile(t, tok) // the principal and the record, kept
		before := reads()
		assert.Nil(t, e.profile(t, tok).Email)
		e.ok(t, tok, "/v1/session/signin")
		assert.Equal(t, before, reads(), "answered without a query")

		e.ok(t, tok, "/v1/profile/set-email", "gail@example.com")
		p := e.profile(t, tok)
		require.NotNil(t, p.Email, "the instance that changed it answers the change")
		assert.Equal(t, "gail@example.com", *p.Email)
		var s signin
		e.ok(t, tok, "/v1/session/signin").Decode(t, &s)
		require.NotNil(t, s.Auth.Email)
		assert.Equal(t, "gail@example.com", *s.Auth.Email)

		e.ok(t, root, "/v1/admin/users/update-permissions", "gail", map[string]bool{"billing": true})
		assert.True(t, e.profile(t, tok).Permissions["billing"], "another caller's change too")

		e.reg.Auth().SetCaching(false)
		before = reads()
		e.profile(t, tok)
		e.profile(t, tok)
		assert.Equal(t, before+4, reads(), "each call authenticates and reads the record")
	})
}

// Two instances on one PostgreSQL database share the auth cache's
// invalidations over a storage.Sync: a change made on one, to a record the
// other keeps, is answered by the other once the invalidation has reached
// it, as the principals it caches are.
func TestOwnRecordAcrossInstances(t *testing.T) {
	t.Parallel()
	db := storagetest.Postgres(t)
	a, _ := newSharedEnv(t, db)
	b, bQueries := newSharedEnv(t, db)
	root := a.root(t)
	hana := a.create(t, root, "hana", "hana-password", nil)
	id := mustID(t, hana.ID)
	tok := a.signin(t, "hana", "hana-password") // valid on both

	assert.Nil(t, b.profile(t, tok).Email)
	before := len(bQueries.Naming("users"))
	assert.Nil(t, b.profile(t, tok).Email)
	require.Equal(t, before, len(bQueries.Naming("users")), "b keeps the record")

	arrived := make(chan struct{})
	var once sync.Once
	b.reg.Auth().OnInvalidate(func(inv auth.Invalidation) { // after the module's own
		if inv.UserID == id {
			once.Do(func() { close(arrived) })
		}
	})
	a.ok(t, tok, "/v1/profile/set-email", "hana@example.com")
	p := a.profile(t, tok)
	require.NotNil(t, p.Email, "a answers its change at once")
	assert.Equal(t, "hana@example.com", *p.Email)

	select {
	case <-arrived:
	case <-time.After(2 * time.Minute):
		t.Fatal("the invalidation never reached b")
	}
	p = b.profile(t, tok)
	require.NotNil(t, p.Email, "b answers the change once told")
	assert.Equal(t, "hana@example.com", *p.Email)
}

// newSharedEnv mounts the module on db as one instance of several: its
// auth cache shares invalidations over a storage.Sync of its own, and it
// returns once that listens (so that the instance caches). Its queries are
// recorded.
func newSharedEnv(t *testing.T, db *bun.DB) (*env, *storagetest.Queries) {
	t.Helper()
	s, err := storage.NewSync(t.Context(), db, storage.SyncOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		assert.NoError(t, s.Close(ctx))
	})
	hooked, queries := storagetest.RecordQueries(db)
	e := newEnv(t, hooked, withQueryHooks)
	ch := s.Channel("auth")
	e.reg.Auth().Share(ch)
	listening := make(chan struct{})
	var once sync.Once
	ch.OnState(func(ok bool) { // told after the auth cache is
		if ok {
			once.Do(func() { close(listening) })
		}
	})
	select {
	case <-listening:
	case <-time.After(2 * time.Minute):
		t.Fatal("the instance's channel never listened")
	}
	require.True(t, e.reg.Auth().Caching())
	return e, queries
}
