package auth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
)

// clock is a fake time source for MuxOptions.Now and LimiterOptions.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// store is a fake token table: principals by token digest, counting lookups.
type store struct {
	mu    sync.Mutex
	byKey map[string]*auth.Principal
	calls atomic.Int64
}

func newStore() *store { return &store{byKey: make(map[string]*auth.Principal)} }

// issue mints a token of the given kind for p and stores it.
func (s *store) issue(t testing.TB, kind auth.Kind, p auth.Principal) string {
	t.Helper()
	plain, digest, err := auth.NewToken(kind)
	require.NoError(t, err)
	p.Kind = kind
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byKey[string(digest)] = &p
	return plain
}

// set replaces what token stands for, as a database update would.
func (s *store) set(token string, p *auth.Principal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byKey[string(auth.Digest(token))] = p
}

func (s *store) Authenticate(_ context.Context, token string) (*auth.Principal, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byKey[string(auth.Digest(token))]
	if !ok || p == nil {
		return nil, auth.ErrUnknownToken
	}
	return p, nil
}

func newMux(s *store, opts auth.MuxOptions) *auth.Mux {
	m := auth.NewMux(opts)
	m.Handle(auth.KindSession, s)
	m.Handle(auth.KindAPIToken, s)
	return m
}

func authenticate(t testing.TB, m *auth.Mux, token string) *auth.Principal {
	t.Helper()
	p, err := m.Authenticate(context.Background(), token)
	require.NoError(t, err)
	require.NotNil(t, p)
	return p
}

func TestMuxGuest(t *testing.T) {
	t.Parallel()
	s := newStore()
	m := newMux(s, auth.MuxOptions{})
	p, err := m.Authenticate(context.Background(), "")
	assert.NoError(t, err)
	assert.Nil(t, p)
	assert.Zero(t, s.calls.Load())
}

func TestMuxUnknownToken(t *testing.T) {
	t.Parallel()
	s := newStore()
	m := auth.NewMux(auth.MuxOptions{})
	m.Handle(auth.KindSession, s)

	apiToken, _, err := auth.NewToken(auth.KindAPIToken)
	require.NoError(t, err)
	confirm, _, err := auth.NewToken(auth.KindConfirmEmail)
	require.NoError(t, err)
	session, _, err := auth.NewToken(auth.KindSession)
	require.NoError(t, err)

	for _, token := range []string{
		"garbage", "ses_", "ses_short", " ", "Bearer " + session, session + "x",
		strings.Repeat("A", 1<<16), "ses_" + strings.Repeat("%", 43),
		apiToken, // well formed, but no authenticator for its kind
		confirm,  // never authenticates a call
	} {
		p, err := m.Authenticate(context.Background(), token)
		assert.ErrorIs(t, err, auth.ErrUnknownToken, "token %q", token)
		assert.Nil(t, p)
	}
	assert.Zero(t, s.calls.Load(), "malformed tokens must not reach the authenticator")

	// Well formed and of a handled kind, but unknown: asked, not cached.
	for range 2 {
		_, err = m.Authenticate(context.Background(), session)
		assert.ErrorIs(t, err, auth.ErrUnknownToken)
	}
	assert.EqualValues(t, 2, s.calls.Load())
	assert.Zero(t, m.Len())
}

func TestMuxDispatchByKind(t *testing.T) {
	t.Parallel()
	var sessions, apiTokens atomic.Int64
	m := auth.NewMux(auth.MuxOptions{})
	m.Handle(auth.KindSession, auth.AuthenticatorFunc(func(_ context.Context, token string) (*auth.Principal, error) {
		sessions.Add(1)
		assert.True(t, strings.HasPrefix(token, "ses_"))
		return &auth.Principal{UserID: 7, Kind: auth.KindSession, TokenID: 1}, nil
	}))
	m.Handle(auth.KindAPIToken, auth.AuthenticatorFunc(func(_ context.Context, token string) (*auth.Principal, error) {
		apiTokens.Add(1)
		assert.True(t, strings.HasPrefix(token, "tok_"))
		return &auth.Principal{UserID: 7, Kind: auth.KindAPIToken, TokenID: 2}, nil
	}))

	session, _, err := auth.NewToken(auth.KindSession)
	require.NoError(t, err)
	apiToken, _, err := auth.NewToken(auth.KindAPIToken)
	require.NoError(t, err)

	assert.Equal(t, auth.KindSession, authenticate(t, m, session).Kind)
	assert.Equal(t, auth.KindAPIToken, authenticate(t, m, apiToken).Kind)
	assert.EqualValues(t, 1, sessions.Load())
	assert.EqualValues(t, 1, apiTokens.Load())
}

func TestMuxCacheHit(t *testing.T) {
	t.Parallel()
	s := newStore()
	m := newMux(s, auth.MuxOptions{})
	token := s.issue(t, auth.KindSession, auth.Principal{UserID: 5, Username: "ann", TokenID: 9})

	first := authenticate(t, m, token)
	assert.Equal(t, "ann", first.Username)
	for range 10 {
		assert.Same(t, first, authenticate(t, m, token))
	}
	assert.EqualValues(t, 1, s.calls.Load())
	assert.Equal(t, 1, m.Len())
}

func TestMuxAuthenticatorErrors(t *testing.T) {
	t.Parallel()
	token, _, err := auth.NewToken(auth.KindSession)
	require.NoError(t, err)
	errDown := errors.New("database is away")

	cases := map[string]struct {
		p       *auth.Principal
		err     error
		wantIs  error
		wantMsg string
	}{
		"unknown":         {err: auth.ErrUnknownToken, wantIs: auth.ErrUnknownToken},
		"wrapped unknown": {err: fmt.Errorf("session expired: %w", auth.ErrUnknownToken), wantIs: auth.ErrUnknownToken},
		"nil principal":   {wantIs: auth.ErrUnknownToken},
		"other":           {err: errDown, wantIs: errDown, wantMsg: "auth: authenticate ses token: database is away"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int64
			m := auth.NewMux(auth.MuxOptions{})
			m.Handle(auth.KindSession, auth.AuthenticatorFunc(func(context.Context, string) (*auth.Principal, error) {
				calls.Add(1)
				return c.p, c.err
			}))
			for range 2 {
				p, err := m.Authenticate(context.Background(), token)
				assert.Nil(t, p)
				assert.ErrorIs(t, err, c.wantIs)
				if c.wantMsg != "" {
					assert.EqualError(t, err, c.wantMsg)
				}
			}
			assert.EqualValues(t, 2, calls.Load(), "failures must not be cached")
		})
	}
}

func TestMuxInvalidate(t *testing.T) {
	t.Parallel()
	s := newStore()
	m := newMux(s, auth.MuxOptions{})
	annSession := s.issue(t, auth.KindSession, auth.Principal{UserID: 5, TokenID: 1})
	annAPI := s.issue(t, auth.KindAPIToken, auth.Principal{UserID: 5, TokenID: 1}) // ids are per kind
	bobSession := s.issue(t, auth.KindSession, auth.Principal{UserID: 6, TokenID: 2})
	bobAPI := s.issue(t, auth.KindAPIToken, auth.Principal{UserID: 6, TokenID: 3})
	all := []string{annSession, annAPI, bobSession, bobAPI}

	// refetched warms the cache, applies inv, and returns the tokens that
	// had to be asked about again.
	refetched := func(inv func()) []string {
		t.Helper()
		for _, token := range all {
			authenticate(t, m, token)
		}
		inv()
		var asked []string
		for _, token := range all {
			before := s.calls.Load()
			authenticate(t, m, token)
			if s.calls.Load() != before {
				asked = append(asked, token)
			}
		}
		return asked
	}

	assert.Empty(t, refetched(func() {}))
	assert.Equal(t, []string{annSession, annAPI},
		refetched(func() { m.Invalidate(auth.Invalidation{UserID: 5}) }), "by user")
	assert.Equal(t, []string{annSession},
		refetched(func() { m.Invalidate(auth.Invalidation{Kind: auth.KindSession, TokenID: 1}) }), "by token")
	assert.Equal(t, []string{bobAPI},
		refetched(func() { m.Invalidate(auth.Invalidation{Kind: auth.KindAPIToken, TokenID: 3}) }), "by token")
	assert.Equal(t, []string{annAPI, bobAPI},
		refetched(func() { m.Invalidate(auth.Invalidation{Kind: auth.KindAPIToken}) }), "by kind")
	assert.Equal(t, []string{bobSession},
		refetched(func() { m.Invalidate(auth.Invalidation{UserID: 6, Kind: auth.KindSession, TokenID: 2}) }), "by user and token")
	assert.Empty(t, refetched(func() { m.Invalidate(auth.Invalidation{UserID: 99}) }), "nobody")
	assert.Equal(t, all, refetched(func() { m.Invalidate(auth.Invalidation{}) }), "all")
	// A refresh drops what it covers from the cache alike.
	assert.Equal(t, []string{annSession, annAPI},
		refetched(func() { m.Invalidate(auth.Invalidation{UserID: 5, Refresh: true}) }), "refresh by user")
	assert.Equal(t, all, refetched(func() { m.Invalidate(auth.Invalidation{Refresh: true}) }), "refresh all")
	assert.Equal(t, all, refetched(m.Purge), "purge")
	assert.Equal(t, 4, m.Len())
}

func TestMuxInvalidateShowsChange(t *testing.T) {
	t.Parallel()
	s := newStore()
	m := newMux(s, auth.MuxOptions{})
	token := s.issue(t, auth.KindSession, auth.Principal{UserID: 5, TokenID: 1, Permissions: map[string]bool{"admin": true}})
	assert.True(t, authenticate(t, m, token).Has("admin"))

	s.set(token, &auth.Principal{UserID: 5, Kind: auth.KindSession, TokenID: 1})
	assert.True(t, authenticate(t, m, token).Has("admin"), "cached until invalidated")
	m.Invalidate(auth.Invalidation{UserID: 5})
	assert.False(t, authenticate(t, m, token).Has("admin"))

	s.set(token, nil) // signed out
	m.Invalidate(auth.Invalidation{Kind: auth.KindSession, TokenID: 1})
	_, err := m.Authenticate(context.Background(), token)
	assert.ErrorIs(t, err, auth.ErrUnknownToken)
}

// TestMuxInvalidateRace: an authentication that read the old state before an
// Invalidate must not cache it after.
func TestMuxInvalidateRace(t *testing.T) {
	t.Parallel()
	for name, invalidate := range map[string]func(m *auth.Mux){
		"by user":     func(m *auth.Mux) { m.Invalidate(auth.Invalidation{UserID: 5}) },
		"other user":  func(m *auth.Mux) { m.Invalidate(auth.Invalidation{UserID: 6}) }, // one global generation: conservative
		"purge":       func(m *auth.Mux) { m.Purge() },
		"caching off": func(m *auth.Mux) { m.SetCaching(false); m.SetCaching(true) },
	} {
		t.Run(name, func(t *testing.T) {
			token, _, err := auth.NewToken(auth.KindSession)
			require.NoError(t, err)

			var calls atomic.Int64
			started := make(chan struct{})
			proceed := make(chan struct{})
			m := auth.NewMux(auth.MuxOptions{})
			m.Handle(auth.KindSession, auth.AuthenticatorFunc(func(context.Context, string) (*auth.Principal, error) {
				if calls.Add(1) == 1 {
					close(started)
					<-proceed // the old state is read; now the change and its Invalidate happen
				}
				return &auth.Principal{UserID: 5, Kind: auth.KindSession, TokenID: 1}, nil
			}))

			done := make(chan struct{})
			go func() {
				defer close(done)
				authenticate(t, m, token)
			}()
			<-started
			invalidate(m)
			close(proceed)
			<-done

			assert.Zero(t, m.Len(), "the stale principal was cached")
			authenticate(t, m, token)
			assert.EqualValues(t, 2, calls.Load())
			// What is read after the Invalidate is cached as usual.
			authenticate(t, m, token)
			assert.EqualValues(t, 2, calls.Load())
		})
	}
}

func TestMuxTTL(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newStore()
	m := newMux(s, auth.MuxOptions{TTL: time.Minute, Now: c.Now})
	token := s.issue(t, auth.KindSession, auth.Principal{UserID: 5})

	authenticate(t, m, token)
	c.Advance(time.Minute - time.Nanosecond)
	authenticate(t, m, token)
	assert.EqualValues(t, 1, s.calls.Load())
	c.Advance(time.Nanosecond)
	authenticate(t, m, token)
	assert.EqualValues(t, 2, s.calls.Load())
}

func TestMuxDefaultTTL(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newStore()
	m := newMux(s, auth.MuxOptions{Now: c.Now})
	token := s.issue(t, auth.KindSession, auth.Principal{UserID: 5})
	authenticate(t, m, token)
	c.Advance(auth.DefaultCacheTTL - time.Second)
	authenticate(t, m, token)
	assert.EqualValues(t, 1, s.calls.Load())
	c.Advance(time.Second)
	authenticate(t, m, token)
	assert.EqualValues(t, 2, s.calls.Load())
}

func TestMuxExpiresAtCapsTTL(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newStore()
	m := newMux(s, auth.MuxOptions{TTL: time.Hour, Now: c.Now})
	soon := s.issue(t, auth.KindSession, auth.Principal{UserID: 5, ExpiresAt: c.Now().Add(time.Minute)})
	later := s.issue(t, auth.KindSession, auth.Principal{UserID: 6, ExpiresAt: c.Now().Add(2 * time.Hour)})
	gone := s.issue(t, auth.KindSession, auth.Principal{UserID: 7, ExpiresAt: c.Now()})

	authenticate(t, m, soon)
	authenticate(t, m, later)
	authenticate(t, m, gone) // the authenticator's business; the mux only declines to cache it
	assert.Equal(t, 2, m.Len())
	calls := s.calls.Load()

	c.Advance(time.Minute - time.Nanosecond)
	authenticate(t, m, soon)
	authenticate(t, m, later)
	assert.Equal(t, calls, s.calls.Load())

	c.Advance(time.Nanosecond)
	authenticate(t, m, soon)
	assert.Equal(t, calls+1, s.calls.Load(), "cached past ExpiresAt")
	authenticate(t, m, later)
	assert.Equal(t, calls+1, s.calls.Load())

	c.Advance(time.Hour)
	authenticate(t, m, later)
	assert.Equal(t, calls+2, s.calls.Load(), "cached past TTL")
}

func TestMuxSetCaching(t *testing.T) {
	t.Parallel()
	s := newStore()
	m := newMux(s, auth.MuxOptions{})
	token := s.issue(t, auth.KindSession, auth.Principal{UserID: 5})
	authenticate(t, m, token)
	require.Equal(t, 1, m.Len())

	m.SetCaching(false)
	assert.Zero(t, m.Len())
	for range 3 {
		authenticate(t, m, token)
	}
	assert.EqualValues(t, 4, s.calls.Load(), "every call reads through")
	assert.Zero(t, m.Len())

	m.SetCaching(true)
	authenticate(t, m, token)
	authenticate(t, m, token)
	assert.EqualValues(t, 5, s.calls.Load())
	assert.Equal(t, 1, m.Len())
}

func TestMuxBounded(t *testing.T) {
	t.Parallel()
	for _, maxEntries := range []int{1, 10, 5000} {
		t.Run(fmt.Sprint(maxEntries), func(t *testing.T) {
			c := newClock()
			s := newStore()
			m := newMux(s, auth.MuxOptions{MaxEntries: maxEntries, Now: c.Now})
			for range 3 * maxEntries {
				token := s.issue(t, auth.KindSession, auth.Principal{UserID: 5})
				authenticate(t, m, token)
				require.LessOrEqual(t, m.Len(), maxEntries)
				c.Advance(time.Millisecond)
			}
			assert.Greater(t, m.Len(), maxEntries/2, "a full cache should stay about full")
		})
	}
}

func TestMuxEvictsExpiredFirst(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := newStore()
	m := newMux(s, auth.MuxOptions{MaxEntries: 4, TTL: time.Hour, Now: c.Now})
	keep := s.issue(t, auth.KindSession, auth.Principal{UserID: 1})
	authenticate(t, m, keep)
	for range 3 {
		authenticate(t, m, s.issue(t, auth.KindSession, auth.Principal{UserID: 2, ExpiresAt: c.Now().Add(time.Minute)}))
	}
	c.Advance(2 * time.Minute)
	authenticate(t, m, s.issue(t, auth.KindSession, auth.Principal{UserID: 3}))
	calls := s.calls.Load()
	authenticate(t, m, keep)
	assert.Equal(t, calls, s.calls.Load(), "a live entry was evicted while expired ones were there")
}

func TestMuxHandle(t *testing.T) {
	t.Parallel()
	m := auth.NewMux(auth.MuxOptions{})
	s := newStore()
	for _, kind := range []auth.Kind{auth.KindNone, auth.KindConfirmEmail, auth.KindResetPass, auth.KindSecondFactor, "Bad", "a:b", "seventeen-letters"} {
		assert.Panics(t, func() { m.Handle(kind, s) }, "kind %q", kind)
		assert.Panics(t, func() { m.HandlePrefix(kind, "eyJ", s) }, "kind %q", kind)
	}
	assert.Panics(t, func() { m.HandlePrefix("jwt", "", s) })
	assert.Panics(t, func() { m.HandleMatch("jwt", nil, s) })
	assert.Panics(t, func() { m.Handle(auth.KindSession, nil) })

	// Replacing an authenticator drops what the old one answered.
	m.Handle(auth.KindSession, s)
	m.Handle(auth.KindAPIToken, s)
	session := s.issue(t, auth.KindSession, auth.Principal{UserID: 5, Username: "old"})
	apiToken := s.issue(t, auth.KindAPIToken, auth.Principal{UserID: 5})
	authenticate(t, m, session)
	authenticate(t, m, apiToken)
	m.Handle(auth.KindSession, auth.AuthenticatorFunc(func(context.Context, string) (*auth.Principal, error) {
		return &auth.Principal{UserID: 5, Username: "new"}, nil
	}))
	assert.Equal(t, "new", authenticate(t, m, session).Username)
	assert.Equal(t, 2, m.Len())
}

func TestMuxConcurrent(t *testing.T) {
	t.Parallel()
	s := newStore()
	m := newMux(s, auth.MuxOptions{MaxEntries: 50})
	tokens := make([]string, 100)
	for i := range tokens {
		tokens[i] = s.issue(t, auth.KindSession, auth.Principal{UserID: int64(i % 10), TokenID: int64(i)})
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				token := tokens[(g*31+i)%len(tokens)]
				p, err := m.Authenticate(context.Background(), token)
				if assert.NoError(t, err) {
					assert.EqualValues(t, (g*31+i)%len(tokens), p.TokenID)
				}
				switch i % 97 {
				case 0:
					m.Invalidate(auth.Invalidation{UserID: int64(i % 10)})
				case 1:
					m.Invalidate(auth.Invalidation{Kind: auth.KindSession, TokenID: int64(i)})
				case 2:
					m.SetCaching(i%2 == 0)
				case 3:
					m.Purge()
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, m.Len(), 50)
}

func TestMuxCacheHitAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	s := newStore()
	m := newMux(s, auth.MuxOptions{})
	token := s.issue(t, auth.KindAPIToken, auth.Principal{UserID: 5})
	authenticate(t, m, token)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := m.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 2.0)
	t.Logf("%v allocations per cache hit", allocs)
}

func BenchmarkMuxCacheHit(b *testing.B) {
	s := newStore()
	m := newMux(s, auth.MuxOptions{})
	token := s.issue(b, auth.KindSession, auth.Principal{UserID: 5})
	ctx := context.Background()
	authenticate(b, m, token)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Authenticate(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMuxCacheHitParallel(b *testing.B) {
	s := newStore()
	m := newMux(s, auth.MuxOptions{})
	tokens := make([]string, 1024)
	for i := range tokens {
		tokens[i] = s.issue(b, auth.KindSession, auth.Principal{UserID: int64(i)})
		authenticate(b, m, tokens[i])
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := m.Authenticate(ctx, tokens[i%len(tokens)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkMuxMalformed(b *testing.B) {
	m := newMux(newStore(), auth.MuxOptions{})
	ctx := context.Background()
	token := "ses_" + strings.Repeat("!", 43)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = m.Authenticate(ctx, token)
	}
}

// hostStore answers tokens of a host's own format ("<anything>") from a
// map, counting lookups.
type hostStore struct {
	mu    sync.Mutex
	byTok map[string]auth.Principal
	calls atomic.Int64
}

func (h *hostStore) Authenticate(_ context.Context, token string) (*auth.Principal, error) {
	h.calls.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.byTok[token]
	if !ok {
		return nil, auth.ErrUnknownToken
	}
	return &p, nil
}

func TestMuxHostKinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := auth.NewMux(auth.MuxOptions{})
	sessions := newStore()
	m.Handle(auth.KindSession, sessions)
	host := &hostStore{byTok: map[string]auth.Principal{
		"ext_anything.goes": {UserID: 7, TokenID: 70},
		"eyJhbGciOi.x.y":    {UserID: 8, TokenID: 80, Kind: "jwt"},
		"opaque-42":         {UserID: 9},
	}}
	m.Handle("ext", host)              // "ext_…" in any format
	m.HandlePrefix("jwt", "eyJ", host) // JWTs
	m.HandleMatch("opq", func(tok string) bool { return strings.HasPrefix(tok, "opaque-") }, host)

	for tok, want := range map[string]auth.Kind{"ext_anything.goes": "ext", "eyJhbGciOi.x.y": "jwt", "opaque-42": "opq"} {
		p, err := m.Authenticate(ctx, tok)
		require.NoError(t, err, tok)
		assert.Equal(t, want, p.Kind, "%s: a principal without a kind gets the registered one", tok)
	}
	assert.EqualValues(t, 3, host.calls.Load())
	for range 3 {
		_, err := m.Authenticate(ctx, "opaque-42")
		require.NoError(t, err)
	}
	assert.EqualValues(t, 3, host.calls.Load(), "a host's principals are cached like any other")

	_, err := m.Authenticate(ctx, "eyJunknown")
	assert.ErrorIs(t, err, auth.ErrUnknownToken, "taken by the jwt authenticator, which does not know it")
	assert.NotErrorIs(t, err, auth.ErrNoAuthenticator)

	for _, tok := range []string{"nobody-takes-this", "xyz_abc"} {
		_, err = m.Authenticate(ctx, tok)
		assert.ErrorIs(t, err, auth.ErrNoAuthenticator, tok)
		assert.ErrorIs(t, err, auth.ErrUnknownToken, "%s: still an unknown token to callers that check only that", tok)
	}

	// Built-in kinds keep their shape check and never reach a host's matcher,
	// even one that would take anything.
	m.HandleMatch("any", func(string) bool { return true }, host)
	calls := host.calls.Load()
	for _, tok := range []string{"ses_short", "tok_" + strings.Repeat("A", 43), "cnf_" + strings.Repeat("A", 43)} {
		_, err = m.Authenticate(ctx, tok)
		assert.ErrorIs(t, err, auth.ErrUnknownToken, tok)
	}
	assert.Equal(t, calls, host.calls.Load(), "a built-in kind's token went to the host's matcher")
	assert.Zero(t, sessions.calls.Load(), "a malformed session token was looked up")

	// Invalidation reaches a host's principals by user, by kind, by kind and token.
	count := func(tok string) int64 {
		before := host.calls.Load()
		_, err := m.Authenticate(ctx, tok)
		require.NoError(t, err)
		return host.calls.Load() - before
	}
	assert.EqualValues(t, 0, count("ext_anything.goes"))
	m.Invalidate(auth.Invalidation{UserID: 7})
	assert.EqualValues(t, 1, count("ext_anything.goes"), "by user")
	m.Invalidate(auth.Invalidation{Kind: "jwt", TokenID: 80})
	assert.EqualValues(t, 1, count("eyJhbGciOi.x.y"), "by kind and token")
	assert.EqualValues(t, 0, count("ext_anything.goes"))
	m.Invalidate(auth.Invalidation{Kind: "opq"})
	assert.EqualValues(t, 1, count("opaque-42"), "by kind")
	assert.EqualValues(t, 0, count("eyJhbGciOi.x.y"))

	// Registering a kind again replaces its authenticator and drops its entries.
	m.HandlePrefix("jwt", "eyJ", auth.AuthenticatorFunc(func(context.Context, string) (*auth.Principal, error) {
		return &auth.Principal{UserID: 8, Username: "replaced"}, nil
	}))
	p, err := m.Authenticate(ctx, "eyJhbGciOi.x.y")
	require.NoError(t, err)
	assert.Equal(t, "replaced", p.Username)
}
