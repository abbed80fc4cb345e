package auth

import (
	"slices"
	"time"
)

// OnInvalidate calls fn after every invalidation this Mux applies: those of
// its own Invalidate and, once shared (see Share), those received from the
// other instances. Long-lived holders of principals, such as open
// WebSocket connections, use it to drop what the cache drops, unless
// inv.Refresh says the credentials stay valid. An Invalidation without
// UserID, Kind and TokenID means everything changed.
//
// fn runs on the goroutine that invalidates (a caller of Invalidate, or the
// channel's), after the cache dropped the entries: it must be quick and
// must not call OnInvalidate.
func (m *Mux) OnInvalidate(fn func(Invalidation)) {
	if fn == nil {
		panic("auth: Mux.OnInvalidate: nil func")
	}
	m.watchersMu.Lock()
	defer m.watchersMu.Unlock()
	var list []func(Invalidation)
	if old := m.watchers.Load(); old != nil {
		list = slices.Clone(*old)
	}
	list = append(list, fn)
	m.watchers.Store(&list)
}

// OnResync calls fn each time a shared Mux (see Share) listens again
// after its channel stopped: invalidations published meanwhile may have
// been lost, so holders of principals should check them again, and caches
// kept coherent by OnInvalidate drop what they hold. fn runs on the
// channel's goroutine, before the Mux caches again (Caching), and must be
// quick: start work elsewhere.
func (m *Mux) OnResync(fn func()) {
	if fn == nil {
		panic("auth: Mux.OnResync: nil func")
	}
	m.watchersMu.Lock()
	defer m.watchersMu.Unlock()
	var list []func()
	if old := m.resyncs.Load(); old != nil {
		list = slices.Clone(*old)
	}
	list = append(list, fn)
	m.resyncs.Store(&list)
}

func (m *Mux) notifyResync() {
	if list := m.resyncs.Load(); list != nil {
		for _, fn := range *list {
			fn()
		}
	}
}

func (m *Mux) notify(inv Invalidation) {
	if list := m.watchers.Load(); list != nil {
		for _, fn := range *list {
			fn(inv)
		}
	}
}

// Matches reports whether inv covers the caller p: whether a principal
// cached for p would be dropped by it. A guest matches nothing.
func (inv Invalidation) Matches(p *Principal) bool {
	if p == nil {
		return false
	}
	e := muxEntry{userID: p.UserID, kind: p.Kind, tokenID: p.TokenID}
	return inv.matches(&e)
}

// Caching reports whether the Mux caches principals now: false after
// SetCaching(false), and while a shared Mux's channel is not listening
// (see Share), when invalidations from the other instances may be lost.
// A cache of the host's that OnInvalidate keeps coherent reads through
// while it is false, as the Mux does.
func (m *Mux) Caching() bool { return m.caching.Load() }

// TTL is the longest the Mux keeps a principal (MuxOptions.TTL): how long
// a change that no invalidation reported can go unseen. A cache of the
// host's that OnInvalidate keeps coherent keeps its entries no longer.
func (m *Mux) TTL() time.Duration { return m.ttl }
