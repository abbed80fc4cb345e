package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authrpc/authrpc/internal/evict"
)

// Defaults for MuxOptions.
const (
	DefaultCacheTTL        = 5 * time.Minute
	DefaultCacheMaxEntries = 100_000
)

// MuxOptions configure a Mux. The zero value is usable.
type MuxOptions struct {
	// TTL is the longest a principal stays cached. Default 5 minutes.
	// Invalidate drops entries at once; TTL bounds how long a change that
	// nobody reported can go unseen.
	TTL time.Duration

	// MaxEntries bounds the number of cached principals. Default 100,000.
	MaxEntries int

	// Now tells the time; tests set it. Default time.Now.
	Now func() time.Time

	// Logger receives what goes wrong with sharing invalidations (see
	// Share). Default slog.Default().
	Logger *slog.Logger
}

// Invalidation says which cached principals to drop. Each of UserID, Kind
// and TokenID that is set narrows it: UserID alone drops every session and
// API token of a user, Kind with TokenID drops one token, Kind alone drops
// every token of that kind. Without any of them it drops everything.
type Invalidation struct {
	UserID  int64
	Kind    Kind
	TokenID int64

	// Refresh says that the credentials it covers stay valid and keep their
	// authority: only what is known of them changed (an email, say). The
	// cache drops them all the same, but holders of long-lived principals
	// (OnInvalidate), such as open WebSockets, keep them. False, the
	// default: the change ends or narrows what they may do (a signout,
	// disabling, deleting or renaming, a new password or permissions), and
	// those holders let go.
	Refresh bool
}

// everything reports whether inv covers every cached principal.
func (inv Invalidation) everything() bool {
	return inv.UserID == 0 && inv.Kind == KindNone && inv.TokenID == 0
}

func (inv Invalidation) matches(e *muxEntry) bool {
	return (inv.UserID == 0 || inv.UserID == e.userID) &&
		(inv.Kind == KindNone || inv.Kind == e.kind) &&
		(inv.TokenID == 0 || inv.TokenID == e.tokenID)
}

// Mux is the Authenticator the transport calls. It sends each bearer token
// to the Authenticator registered for it (by its "<kind>_" prefix, or by a
// host's match function: see Handle and HandleMatch), and caches the
// principals they return, keyed by the token's digest, so that
// most calls cost no database lookup. It is safe for concurrent use.
//
// Principals handed out by a Mux are shared between calls: treat them as
// read-only. An Authenticator must not change a principal it has returned.
//
// Whatever changes who a token stands for (signing out, disabling a user or
// token, changing a password or permissions) must be followed by Invalidate,
// on every instance, or the change shows only when the entry's TTL runs out.
// Share makes one Invalidate reach every instance.
type Mux struct {
	ttl      time.Duration
	now      func() time.Time
	log      *slog.Logger
	perShard int
	shards   []muxShard // a power of two of them, picked by the digest's first byte

	// shared is the channel Invalidate publishes on; nil until Share, so
	// that an unshared Invalidate costs one atomic load more.
	shared atomic.Pointer[muxShare]

	handlersMu sync.Mutex // serialises Handle; readers load handlers without it
	handlers   atomic.Pointer[muxRoutes]

	// gen counts invalidations. An authentication stores its result only if
	// gen has not moved since before it asked the authenticator, so an answer
	// read before an Invalidate cannot be cached after it.
	gen     atomic.Uint64
	caching atomic.Bool

	watchersMu sync.Mutex // serialises OnInvalidate; invalidate loads watchers without it
	watchers   atomic.Pointer[[]func(Invalidation)]
	resyncs    atomic.Pointer[[]func()]
	deaf       atomic.Bool // the shared channel stopped listening since it last listened
}

type muxShard struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]muxEntry
	_       [64]byte // keep neighbouring shards' locks off one cache line
}

type muxEntry struct {
	p       *Principal
	expires int64 // Unix nanoseconds
	// The principal's identity, copied so that invalidation does not depend
	// on callers leaving the shared principal alone.
	userID  int64
	kind    Kind
	tokenID int64
}

// NewMux returns a Mux with no authenticators and caching on.
func NewMux(opts MuxOptions) *Mux {
	maxEntries := positiveOr(opts.MaxEntries, DefaultCacheMaxEntries)
	// Shard big caches to spread lock traffic, but keep every shard big
	// enough that splitting MaxEntries evenly wastes little of it.
	n := 1
	for n < 32 && maxEntries/(2*n) >= 1024 {
		n *= 2
	}
	m := &Mux{
		ttl:      opts.TTL,
		now:      opts.Now,
		log:      opts.Logger,
		perShard: maxEntries / n,
		shards:   make([]muxShard, n),
	}
	if m.ttl <= 0 {
		m.ttl = DefaultCacheTTL
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	for i := range m.shards {
		m.shards[i].entries = make(map[[sha256.Size]byte]muxEntry)
	}
	m.handlers.Store(&muxRoutes{byKind: map[Kind]Authenticator{}})
	m.caching.Store(true)
	return m
}

// Handle registers a for bearer tokens "<kind>_…": the built-in kinds
// KindSession and KindAPIToken (whose tokens must also have the shape
// NewToken gives them), or a kind of the host's own, 1 to 16 of [a-z0-9]
// ("ext" takes "ext_…" tokens in any format after the underscore). It
// panics on KindNone, KindConfirmEmail, KindResetPass, KindSecondFactor (they never
// authenticate a call), a malformed kind or a nil authenticator.
// Replacing a kind's authenticator drops the principals cached from the
// old one.
func (m *Mux) Handle(kind Kind, a Authenticator) {
	m.route(kind, nil, a, "Handle")
}

// HandlePrefix registers a, under kind, for bearer tokens that start with
// prefix: "eyJ" takes JSON Web Tokens, say. See HandleMatch.
func (m *Mux) HandlePrefix(kind Kind, prefix string, a Authenticator) {
	if prefix == "" {
		panic("auth: Mux.HandlePrefix: empty prefix")
	}
	m.route(kind, func(token string) bool { return strings.HasPrefix(token, prefix) }, a, "HandlePrefix")
}

// HandleMatch registers a, under kind, for the bearer tokens match
// accepts. match must be cheap and do no I/O: it runs for every token that
// no "<kind>_" prefix claims, in the order the matchers were registered,
// and the first that accepts a token gets it.
//
// The principals a returns are cached by the token's digest like any
// other, until Invalidate matches them (by UserID, by kind, by kind and
// TokenID), the TTL runs out or their ExpiresAt passes. A principal
// returned with no Kind is given kind. Kind must be one that Handle
// accepts; registering a kind again replaces its authenticator (and
// match), which keeps its turn among the matchers.
//
// The principal is trusted as it is: UserID RootUserID makes the caller
// root (see Principal.IsRoot), so map outside identities to user ids with
// care.
func (m *Mux) HandleMatch(kind Kind, match func(token string) bool, a Authenticator) {
	if match == nil {
		panic("auth: Mux.HandleMatch: nil match")
	}
	m.route(kind, match, a, "HandleMatch")
}

// maxKindLen is the longest kind validKind accepts.
const maxKindLen = 16

// muxRoutes are the registered authenticators, replaced whole on change.
type muxRoutes struct {
	byKind   map[Kind]Authenticator // "<kind>_…" tokens
	matchers []muxMatcher           // other tokens, in registration order
}

type muxMatcher struct {
	kind  Kind
	match func(string) bool
	a     Authenticator
}

func (m *Mux) route(kind Kind, match func(string) bool, a Authenticator, name string) {
	if kind == KindNone || kind == KindConfirmEmail || kind == KindResetPass || kind == KindSecondFactor || !validKind(string(kind)) {
		panic(fmt.Sprintf("auth: Mux.%s: tokens of kind %q do not authenticate calls", name, kind))
	}
	if a == nil {
		panic(fmt.Sprintf("auth: Mux.%s: nil authenticator", name))
	}
	m.handlersMu.Lock()
	defer m.handlersMu.Unlock()
	old := m.handlers.Load()
	next := &muxRoutes{byKind: maps.Clone(old.byKind)}
	replaced := old.byKind[kind] != nil
	delete(next.byKind, kind)
	if match == nil {
		next.byKind[kind] = a
	}
	added := match == nil
	for _, r := range old.matchers {
		if r.kind == kind {
			replaced = true
			if added {
				continue
			}
			r.match, r.a, added = match, a, true // a replaced matcher keeps its turn
		}
		next.matchers = append(next.matchers, r)
	}
	if !added {
		next.matchers = append(next.matchers, muxMatcher{kind: kind, match: match, a: a})
	}
	m.handlers.Store(next)
	if replaced {
		m.invalidate(Invalidation{Kind: kind}) // only this instance changed
	}
}

// lookup finds the authenticator for token. ok is false when none takes it;
// a built-in token of the wrong shape is taken, and turned away (a nil
// authenticator) without a lookup.
func (rs *muxRoutes) lookup(token string) (kind Kind, a Authenticator, ok bool) {
	if i := strings.IndexByte(token, '_'); i > 0 && i <= maxKindLen {
		kind = Kind(token[:i])
		if a = rs.byKind[kind]; a != nil {
			if tokenKind(kind) {
				if _, wellFormed := TokenKind(token); !wellFormed {
					return kind, nil, true
				}
			}
			return kind, a, true
		}
		if tokenKind(kind) {
			// Our own kinds are never handed to a host's matcher.
			return kind, nil, false
		}
	}
	for _, r := range rs.matchers {
		if r.match(token) {
			return r.kind, r.a, true
		}
	}
	return KindNone, nil, false
}

// ErrNoAuthenticator is returned by Mux.Authenticate for a bearer token
// that no registered authenticator takes. It is an ErrUnknownToken too.
// The rpc transport then counts the principal that the host's middleware
// put in the request's context (NewContext), if any.
var ErrNoAuthenticator = fmt.Errorf("%w: no authenticator takes this token", ErrUnknownToken)

// Authenticate resolves a bearer token. An empty token is a guest: (nil,
// nil). A token no authenticator takes is (nil, ErrNoAuthenticator). A
// token that is malformed, or that its authenticator does not know, is
// (nil, ErrUnknownToken); malformed built-in tokens are turned away without
// a lookup. Other errors from the authenticator are returned wrapped. The
// principal returned is shared: do not modify it.
func (m *Mux) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if token == "" {
		return nil, nil
	}
	kind, a, ok := m.handlers.Load().lookup(token)
	if !ok {
		return nil, ErrNoAuthenticator
	}
	if a == nil {
		return nil, ErrUnknownToken
	}

	key := digestKey(token)
	s := &m.shards[int(key[0])&(len(m.shards)-1)]
	caching := m.caching.Load()
	if caching {
		s.mu.RLock()
		e, ok := s.entries[key]
		s.mu.RUnlock()
		if ok && e.kind == kind && m.now().UnixNano() < e.expires {
			return e.p, nil
		}
	}

	gen := m.gen.Load() // before asking: see Mux.gen
	p, err := a.Authenticate(ctx, token)
	switch {
	case errors.Is(err, ErrUnknownToken), err == nil && p == nil:
		return nil, ErrUnknownToken
	case err != nil:
		return nil, fmt.Errorf("auth: authenticate %s token: %w", kind, err)
	}
	if p.Kind == KindNone {
		c := *p
		c.Kind = kind
		p = &c
	}
	if caching {
		m.store(s, key, kind, p, gen)
	}
	return p, nil
}

// store caches p unless an invalidation happened since gen was read.
func (m *Mux) store(s *muxShard, key [sha256.Size]byte, kind Kind, p *Principal, gen uint64) {
	now := m.now()
	expires := now.Add(m.ttl)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(expires) {
		expires = p.ExpiresAt
	}
	if !now.Before(expires) {
		return
	}
	e := muxEntry{p: p, expires: expires.UnixNano(), userID: p.UserID, kind: kind, tokenID: p.TokenID}

	s.mu.Lock()
	defer s.mu.Unlock()
	// Checked under the shard lock: Invalidate and SetCaching move gen or the
	// flag before they take it, so either we see the change here or they
	// drop what we store.
	if m.gen.Load() != gen || !m.caching.Load() {
		return
	}
	if _, ok := s.entries[key]; !ok && len(s.entries) >= m.perShard {
		s.evict(now.UnixNano())
	}
	s.entries[key] = e
}

// evict makes room in a full shard: see evict.Sampled.
func (s *muxShard) evict(now int64) {
	evict.Sampled(s.entries, now, func(e muxEntry) int64 { return e.expires })
}

// Invalidate drops the cached principals inv matches (see Invalidation),
// and makes sure that none of the authentications in flight caches what it
// read before. Call it after the change is stored.
//
// Once the Mux is shared (see Share), Invalidate also publishes inv to the
// other instances before it returns.
func (m *Mux) Invalidate(inv Invalidation) {
	m.invalidate(inv)
	if sh := m.shared.Load(); sh != nil {
		sh.publish(m, inv)
	}
}

// invalidate applies inv to this instance's cache only, and tells the
// watchers (see OnInvalidate).
func (m *Mux) invalidate(inv Invalidation) {
	defer m.notify(inv)
	if inv.everything() {
		m.Purge()
		return
	}
	m.gen.Add(1)
	// A scan: invalidations are rare next to lookups, so they pay for it
	// rather than every lookup keeping an index by user and token.
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for k, e := range s.entries {
			if inv.matches(&e) {
				delete(s.entries, k)
			}
		}
		s.mu.Unlock()
	}
}

// Purge drops every cached principal of this instance. To drop them on
// every instance, Invalidate(Invalidation{}).
func (m *Mux) Purge() {
	m.gen.Add(1)
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.entries = make(map[[sha256.Size]byte]muxEntry) // a fresh map gives the memory back
		s.mu.Unlock()
	}
}

// SetCaching turns the cache on or off. Off, the Mux empties its cache and
// asks the authenticator on every call: for when invalidations from other
// instances cannot be relied on to arrive.
func (m *Mux) SetCaching(on bool) {
	m.caching.Store(on)
	if !on {
		m.Purge()
	}
}

// Len returns the number of cached principals, including expired ones not
// yet dropped.
func (m *Mux) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}
