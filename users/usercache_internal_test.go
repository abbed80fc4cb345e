package users

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/fakeclock"
)

// The userCache's rules apart from any database: what it keeps, for how
// long, what drops it, and its bound.
func TestUserCacheRules(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New()
	mux := auth.NewMux(auth.MuxOptions{TTL: time.Minute})
	c := newUserCache(mux, clock.Now)
	loads := 0
	load := func(_ context.Context, id int64) (*userRow, error) {
		loads++
		if id < 0 {
			return nil, nil
		}
		return &userRow{ID: id, Name: "u", Permissions: map[string]bool{}}, nil
	}
	read := func(id int64) *User {
		t.Helper()
		u, err := c.user(t.Context(), id, load)
		require.NoError(t, err)
		return u
	}
	counted := func(want int, what string) {
		t.Helper()
		assert.Equal(t, want, loads, what)
		loads = 0
	}

	read(7)
	read(7)
	counted(1, "kept")
	assert.Nil(t, read(-1))
	assert.Nil(t, read(-1))
	counted(2, "no user, nothing kept")

	mux.Invalidate(auth.Invalidation{Kind: auth.KindAPIToken, TokenID: 3})
	read(7)
	counted(0, "a token's invalidation names no user")
	mux.Invalidate(auth.Invalidation{UserID: 8})
	read(7)
	counted(0, "another user's")
	mux.Invalidate(auth.Invalidation{UserID: 7, Refresh: true})
	read(7)
	counted(1, "its own, even a refresh")
	mux.Invalidate(auth.Invalidation{})
	read(7)
	counted(1, "everything")

	clock.Advance(time.Minute)
	read(7)
	counted(1, "no longer than the Mux's TTL")

	mux.SetCaching(false)
	read(7)
	read(7)
	counted(2, "read through while the Mux does not cache")
	mux.SetCaching(true)

	for id := range int64(userCacheMax + 10) {
		read(id)
	}
	c.mu.RLock()
	assert.LessOrEqual(t, len(c.entries), userCacheMax)
	c.mu.RUnlock()
}

// A read that an invalidation overtook is answered but not kept: it may
// have come before the change.
func TestUserCacheRaceWithInvalidation(t *testing.T) {
	t.Parallel()
	mux := auth.NewMux(auth.MuxOptions{})
	c := newUserCache(mux, time.Now)
	loads := 0
	load := func(_ context.Context, id int64) (*userRow, error) {
		loads++
		if loads == 1 { // the change commits and is invalidated during the read
			mux.Invalidate(auth.Invalidation{UserID: id})
		}
		return &userRow{ID: id, Permissions: map[string]bool{}}, nil
	}
	for range 2 {
		_, err := c.user(t.Context(), 5, load)
		require.NoError(t, err)
	}
	assert.Equal(t, 2, loads, "the first read was not kept")
}
