package auth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
)

// bus is an in-process pubsub.Channel that several Muxes share, delivering
// every payload to every subscriber (the publisher's too) at once, as
// storage.Channel does on SQLite. It records what was published.
type bus struct {
	mu        sync.Mutex
	subs      []func(string)
	states    []func(bool)
	listening bool
	published []string
	err       error // Publish fails with it, after delivering
}

func newBus() *bus { return &bus{listening: true} }

func (b *bus) Publish(_ context.Context, payload string) error {
	b.mu.Lock()
	b.published = append(b.published, payload)
	subs, err := b.subs, b.err
	b.mu.Unlock()
	for _, fn := range subs {
		fn(payload)
	}
	return err
}

func (b *bus) Subscribe(fn func(string)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, fn)
}

func (b *bus) OnState(fn func(bool)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.states = append(b.states, fn)
	fn(b.listening)
}

func (b *bus) setListening(v bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.listening = v
	for _, fn := range b.states {
		fn(v)
	}
}

// deliver hands subscribers a payload as if another instance had sent it.
func (b *bus) deliver(payload string) {
	b.mu.Lock()
	subs := b.subs
	b.mu.Unlock()
	for _, fn := range subs {
		fn(payload)
	}
}

func (b *bus) sent() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.published...)
}

// instance is one copy of the service: its own Mux and call count, over
// the token table all copies share.
type instance struct {
	mux   *auth.Mux
	calls atomic.Int64
}

func newInstance(s *store, opts auth.MuxOptions) *instance {
	in := &instance{mux: auth.NewMux(opts)}
	a := auth.AuthenticatorFunc(func(ctx context.Context, token string) (*auth.Principal, error) {
		in.calls.Add(1)
		return s.Authenticate(ctx, token)
	})
	in.mux.Handle(auth.KindSession, a)
	in.mux.Handle(auth.KindAPIToken, a)
	return in
}

// asked authenticates every token and returns those the authenticator was
// asked about.
func (in *instance) asked(t *testing.T, tokens ...string) []string {
	t.Helper()
	var asked []string
	for _, token := range tokens {
		before := in.calls.Load()
		authenticate(t, in.mux, token)
		if in.calls.Load() != before {
			asked = append(asked, token)
		}
	}
	return asked
}

func TestMuxShare(t *testing.T) {
	t.Parallel()
	s := newStore()
	b := newBus()
	a, other := newInstance(s, auth.MuxOptions{}), newInstance(s, auth.MuxOptions{})
	a.mux.Share(b)
	other.mux.Share(b)

	annSession := s.issue(t, auth.KindSession, auth.Principal{UserID: 5, TokenID: 1})
	annAPI := s.issue(t, auth.KindAPIToken, auth.Principal{UserID: 5, TokenID: 1})
	bobSession := s.issue(t, auth.KindSession, auth.Principal{UserID: 6, TokenID: 2})
	bobAPI := s.issue(t, auth.KindAPIToken, auth.Principal{UserID: 6, TokenID: 3})
	all := []string{annSession, annAPI, bobSession, bobAPI}

	for _, c := range []struct {
		inv     auth.Invalidation
		payload string
		want    []string
	}{
		{auth.Invalidation{UserID: 5}, "u:5", []string{annSession, annAPI}},
		{auth.Invalidation{Kind: auth.KindSession, TokenID: 1}, "t:ses:1", []string{annSession}},
		{auth.Invalidation{Kind: auth.KindAPIToken, TokenID: 3}, "t:tok:3", []string{bobAPI}},
		{auth.Invalidation{Kind: auth.KindAPIToken}, "k:tok", []string{annAPI, bobAPI}},
		{auth.Invalidation{TokenID: 1}, "i:1", []string{annSession, annAPI}},
		{auth.Invalidation{UserID: 6, Kind: auth.KindSession, TokenID: 2}, "u:6 t:ses:2", []string{bobSession}},
		{auth.Invalidation{UserID: 99}, "u:99", nil},
		{auth.Invalidation{}, "*", all},
		{auth.Invalidation{UserID: 5, Refresh: true}, "u:5 r", []string{annSession, annAPI}},
	} {
		a.asked(t, all...)
		other.asked(t, all...)
		require.Empty(t, other.asked(t, all...), "warm")

		before := len(b.sent())
		a.mux.Invalidate(c.inv)
		assert.Equal(t, []string{c.payload}, b.sent()[before:], "published once, compactly")
		assert.Equal(t, c.want, a.asked(t, all...), "here: %s", c.payload)
		assert.Equal(t, c.want, other.asked(t, all...), "there: %s", c.payload)
	}
}

// The other instances' watchers (open sockets) are told a refresh is one.
func TestMuxShareRefresh(t *testing.T) {
	t.Parallel()
	b := newBus()
	a, other := auth.NewMux(auth.MuxOptions{}), auth.NewMux(auth.MuxOptions{})
	a.Share(b)
	other.Share(b)
	var seen []auth.Invalidation
	other.OnInvalidate(func(inv auth.Invalidation) { seen = append(seen, inv) }) // the bus delivers at once
	for _, inv := range []auth.Invalidation{{UserID: 5, Refresh: true}, {UserID: 5}, {Refresh: true}} {
		a.Invalidate(inv)
	}
	assert.Equal(t, []auth.Invalidation{{UserID: 5, Refresh: true}, {UserID: 5}, {Refresh: true}}, seen)
}

func TestMuxShareReceived(t *testing.T) {
	t.Parallel()
	s := newStore()
	b := newBus()
	in := newInstance(s, auth.MuxOptions{})
	in.mux.Share(b)
	ann := s.issue(t, auth.KindSession, auth.Principal{UserID: 5, TokenID: 1})
	bob := s.issue(t, auth.KindSession, auth.Principal{UserID: 6, TokenID: 2})
	in.asked(t, ann, bob)

	b.deliver("u:5")
	assert.Equal(t, []string{ann}, in.asked(t, ann, bob))
	assert.Empty(t, b.sent(), "a received invalidation is not published again")

	// Unreadable: drop everything, and say so.
	var logs bytes.Buffer
	in2 := newInstance(s, auth.MuxOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	in2.mux.Share(b)
	in2.asked(t, ann, bob)
	b.deliver("v2:something new")
	assert.Equal(t, []string{ann, bob}, in2.asked(t, ann, bob))
	assert.Contains(t, logs.String(), "unreadable cache invalidation")
	assert.Contains(t, logs.String(), "v2:something new")
}

func TestMuxShareState(t *testing.T) {
	t.Parallel()
	s := newStore()
	b := newBus()
	in := newInstance(s, auth.MuxOptions{})
	token := s.issue(t, auth.KindSession, auth.Principal{UserID: 5})
	in.asked(t, token)
	in.mux.Share(b)
	assert.Zero(t, in.mux.Len(), "emptied when shared")
	assert.Len(t, in.asked(t, token, token, token), 1, "listening: caches")

	b.setListening(false)
	assert.Zero(t, in.mux.Len())
	assert.Len(t, in.asked(t, token, token, token), 3, "not listening: reads through")
	assert.Zero(t, in.mux.Len())

	b.setListening(true)
	assert.Len(t, in.asked(t, token, token, token), 1, "listening again: caches")
	b.setListening(true) // again: drops the cache, nothing worse
	assert.Len(t, in.asked(t, token, token), 1)
}

// silent is a Channel that reports no state until told.
type silent struct{ state func(bool) }

func (c *silent) Publish(context.Context, string) error { return nil }
func (c *silent) Subscribe(func(string))                {}
func (c *silent) OnState(fn func(bool))                 { c.state = fn }

func TestMuxShareUntrustedUntilListening(t *testing.T) {
	t.Parallel()
	s := newStore()
	in := newInstance(s, auth.MuxOptions{})
	token := s.issue(t, auth.KindSession, auth.Principal{UserID: 5})
	ch := &silent{}
	in.mux.Share(ch)
	assert.Len(t, in.asked(t, token, token), 2, "no word from the channel yet: reads through")
	ch.state(true)
	assert.Len(t, in.asked(t, token, token), 1)
}

func TestMuxSharePublishError(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	s := newStore()
	b := newBus()
	b.err = errors.New("database is away")
	in := newInstance(s, auth.MuxOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	in.mux.Share(b)
	token := s.issue(t, auth.KindSession, auth.Principal{UserID: 5})
	in.asked(t, token)

	in.mux.Invalidate(auth.Invalidation{UserID: 5})
	assert.Equal(t, []string{token}, in.asked(t, token), "applies here all the same")
	assert.Contains(t, logs.String(), "level=ERROR")
	assert.Contains(t, logs.String(), "database is away")
	assert.Contains(t, logs.String(), "invalidation=u:5")
}

func TestMuxShareOnlyInvalidatePublishes(t *testing.T) {
	t.Parallel()
	s := newStore()
	b := newBus()
	in := newInstance(s, auth.MuxOptions{})
	in.mux.Share(b)
	in.mux.Purge()
	in.mux.SetCaching(false)
	in.mux.SetCaching(true)
	in.mux.Handle(auth.KindSession, s) // replacing drops this instance's sessions only
	assert.Empty(t, b.sent())

	assert.Panics(t, func() { in.mux.Share(b) }, "twice")
	assert.Panics(t, func() { auth.NewMux(auth.MuxOptions{}).Share(nil) })
}

func TestMuxShareConcurrent(t *testing.T) {
	t.Parallel()
	s := newStore()
	b := newBus()
	a, other := newInstance(s, auth.MuxOptions{}), newInstance(s, auth.MuxOptions{})
	a.mux.Share(b)
	other.mux.Share(b)
	tokens := make([]string, 20)
	for i := range tokens {
		tokens[i] = s.issue(t, auth.KindSession, auth.Principal{UserID: int64(i % 4), TokenID: int64(i)})
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			in := []*instance{a, other}[g%2]
			for i := range 300 {
				_, err := in.mux.Authenticate(context.Background(), tokens[(g+i)%len(tokens)])
				assert.NoError(t, err)
				switch i % 50 {
				case 0:
					in.mux.Invalidate(auth.Invalidation{UserID: int64(i % 4)})
				case 1:
					b.setListening(i%100 == 1)
				case 2:
					b.deliver("t:ses:3")
				}
			}
		})
	}
	wg.Wait()
}

// TestMuxInvalidateUnsharedAllocations: sharing must cost nothing to a
// Mux that does not use it.
func TestMuxInvalidateUnsharedAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	s := newStore()
	m := newMux(s, auth.MuxOptions{})
	authenticate(t, m, s.issue(t, auth.KindSession, auth.Principal{UserID: 5}))
	allocs := testing.AllocsPerRun(1000, func() { m.Invalidate(auth.Invalidation{UserID: 6}) })
	assert.Zero(t, allocs)
}
