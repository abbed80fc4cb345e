package users

import (
	"context"
	"sync"
	"time"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/evict"
)

// userCacheMax bounds the users a userCache keeps: the callers active of
// late, which is what the reads it serves are (a caller's own record).
const userCacheMax = 10_000

// userCache keeps users, by id, as the caller's own reads answer them
// (profile/read, signin without credentials), on this instance, so that
// those reads cost no query. It is kept coherent by the invalidations that
// keep the auth cache's principals (auth.Mux) so, and goes stale exactly
// where they do:
//
//   - every change to what a User holds is followed, once committed, by an
//     auth.Invalidation of the user (modify, ConfirmEmail, ResetPassword):
//     the Mux tells its watchers on the invalidating goroutine, so the
//     entry is gone here before the change returns, and on every other
//     instance once the invalidation reaches it over the Mux's channel
//     (auth.Mux.Share); one without a user drops every entry;
//   - an entry is filled from a read only if no invalidation came between
//     the read and the fill (gen), and only while the Mux caches: while
//     its channel is not listening, invalidations may be lost, so reads go
//     to the table; when it listens again, every entry is dropped before
//     the Mux caches again (auth.Mux.OnResync);
//   - an entry lives no longer than a principal (auth.Mux.TTL), so between
//     instances that share no channel a change shows as late as a revoked
//     permission does.
//
// Entries are never modified: readers share them.
type userCache struct {
	mux *auth.Mux
	now func() time.Time

	mu      sync.RWMutex
	gen     uint64 // moves with every drop: see fill
	entries map[int64]cachedUser
}

type cachedUser struct {
	u       *User
	expires int64 // Unix nanoseconds
}

// newUserCache returns a cache kept by mux's invalidations, on the
// module's clock.
func newUserCache(mux *auth.Mux, now func() time.Time) *userCache {
	c := &userCache{mux: mux, now: now, entries: make(map[int64]cachedUser)}
	mux.OnInvalidate(c.invalidate)
	mux.OnResync(c.clear)
	return c
}

// user returns the user with the given id, from the cache or else from
// load, whose answer it keeps (see fill); nil when there is none.
func (c *userCache) user(ctx context.Context, id int64, load func(context.Context, int64) (*userRow, error)) (*User, error) {
	if !c.mux.Caching() {
		row, err := load(ctx, id)
		if row == nil || err != nil {
			return nil, err
		}
		return row.user(), nil
	}
	c.mu.RLock()
	e, ok := c.entries[id]
	gen := c.gen
	c.mu.RUnlock()
	if ok && c.now().UnixNano() < e.expires {
		return e.u, nil
	}
	row, err := load(ctx, id)
	if row == nil || err != nil {
		return nil, err
	}
	u := row.user()
	c.fill(u, gen)
	return u, nil
}

// fill keeps u, read after gen was, unless something was dropped since:
// that read may have come before the change the drop was for.
func (c *userCache) fill(u *User, gen uint64) {
	now := c.now()
	e := cachedUser{u: u, expires: now.Add(c.mux.TTL()).UnixNano()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || !c.mux.Caching() {
		return
	}
	if _, ok := c.entries[u.ID]; !ok && len(c.entries) >= userCacheMax {
		c.evict(now.UnixNano())
	}
	c.entries[u.ID] = e
}

// evict makes room: see evict.Sampled.
func (c *userCache) evict(now int64) {
	evict.Sampled(c.entries, now, func(e cachedUser) int64 { return e.expires })
}

// invalidate drops what inv covers: the user it names, or everything
// when it names nothing. One that names only a token or a kind of token
// (an API token deleted) says nothing of users' rows: every change to
// those names its user.
func (c *userCache) invalidate(inv auth.Invalidation) {
	if inv.UserID == 0 && (inv.Kind != auth.KindNone || inv.TokenID != 0) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if inv.UserID == 0 {
		clear(c.entries)
		return
	}
	delete(c.entries, inv.UserID)
}

// clear drops every entry.
func (c *userCache) clear() { c.invalidate(auth.Invalidation{}) }

// cachedUser returns the user with the given id for the caller's own
// reads, from the module's userCache; nil when there is none.
func (m *Module) cachedUser(ctx context.Context, id int64) (*User, error) {
	return m.cache.user(ctx, id, func(ctx context.Context, id int64) (*userRow, error) {
		return m.findByID(ctx, m.db, id, false)
	})
}
