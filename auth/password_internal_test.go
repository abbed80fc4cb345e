package auth

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/internal/fakeclock"
)

// These tests hold the Hasher's slots themselves, so they see the bound
// deterministically: no timing, and argon2 itself is not mocked. The
// Hasher's clock is a fake one: a run that waits for a slot asks it for its
// MaxWait timer, which is how a test knows the run is queued.

var fastParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func TestHasherBoundHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := fakeclock.New()
	h := NewHasher(HasherOptions{Params: fastParams, MaxConcurrent: 2, After: clock.After})
	require.Equal(t, 2, h.queue.slots)
	hash, err := h.Hash(ctx, "password1")
	require.NoError(t, err)

	// With one of two slots taken, a run still goes ahead.
	hold(t, h)
	ok, err := h.Verify(ctx, "password1", hash)
	require.NoError(t, err)
	assert.True(t, ok)

	// With both taken, every kind of run waits, and gives up with its context.
	hold(t, h)
	queued := 0 // runs that asked for a MaxWait timer
	for name, run := range map[string]func(context.Context) error{
		"Hash":        func(ctx context.Context) error { _, err := h.Hash(ctx, "password1"); return err },
		"Verify":      func(ctx context.Context) error { _, err := h.Verify(ctx, "password1", hash); return err },
		"VerifyDummy": func(ctx context.Context) error { return h.VerifyDummy(ctx, "password1") },
	} {
		ctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- run(ctx) }()
		queued++
		clock.Waits(t, queued) // it waits for a slot
		cancel()
		assert.ErrorIs(t, <-errc, context.Canceled, name)
	}
	assert.Equal(t, HasherStats{Running: 2}, h.Stats(), "a run that gave up must not hold or free a slot")

	// A waiting run goes ahead as soon as a slot frees.
	done := make(chan bool, 1)
	go func() {
		ok, err := h.Verify(ctx, "password1", hash)
		assert.NoError(t, err)
		done <- ok
	}()
	clock.Waits(t, queued+1)
	assert.Empty(t, done, "Verify ran with every slot taken")
	h.release()
	assert.True(t, <-done)
	h.release()
	assert.Equal(t, HasherStats{}, h.Stats(), "finished runs must give their slots back")
}

// hold takes one of h's slots, as a hash in progress would.
func hold(t *testing.T, h *Hasher) {
	t.Helper()
	require.NoError(t, h.acquire(context.Background()))
}

func TestHasherCancelWhileWaiting(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New()
	h := NewHasher(HasherOptions{MaxConcurrent: 1, After: clock.After})
	hold(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := h.Hash(ctx, "password1")
		errc <- err
	}()
	clock.Waits(t, 1) // it waits for the slot
	cancel()
	assert.ErrorIs(t, <-errc, context.Canceled)
	assert.Equal(t, HasherStats{Running: 1}, h.Stats(), "it left the queue")
}

// A malformed or unreasonable hash is refused before the run asks for a
// slot: with every slot taken and no queue, the answer is the hash's
// error, not ErrBusy. So no argon2 run can start on a planted row's
// parameters (t=4000000000 would hold a slot for hours).
func TestHasherRefusesBadHashesWithoutASlot(t *testing.T) {
	t.Parallel()
	h := NewHasher(HasherOptions{Params: fastParams, MaxConcurrent: 1, MaxQueue: -1})
	hold(t, h)
	for _, hash := range []string{
		"garbage",
		"$argon2id$v=19$m=4000000000,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWtleXNvbWVrZXlzb21la2V5c29tZWtleQ",
		"$argon2id$v=19$m=1024,t=4000000000,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWtleXNvbWVrZXlzb21la2V5c29tZWtleQ",
		"$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWtleQ",
	} {
		ok, err := h.Verify(context.Background(), "password1", hash)
		require.Error(t, err, hash)
		assert.NotErrorIs(t, err, ErrBusy, "refused before asking for a slot: %s", hash)
		assert.ErrorContains(t, err, "auth: verify password: ", hash)
		assert.False(t, ok)
	}
}

func TestHasherDummyMatchesParams(t *testing.T) {
	t.Parallel()
	// VerifyDummy costs what Verify costs only if the dummy hash carries the
	// Hasher's own parameters.
	for _, p := range []*argon2id.Params{nil, {Memory: 1024, Iterations: 3, Parallelism: 2, SaltLength: 8, KeyLength: 64}} {
		h := NewHasher(HasherOptions{Params: p})
		assert.False(t, h.NeedsRehash(h.dummy), h.dummy)
		require.NoError(t, h.checkHash(h.dummy))
	}
}

// The wait for a slot is bounded in length and in time: past MaxQueue
// waiters the next caller is refused at once, and a waiter gives up after
// MaxWait, both with ErrBusy, holding no slot.
func TestHasherQueueIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const maxWait = 300 * time.Millisecond
	clock := fakeclock.New()
	h := NewHasher(HasherOptions{Params: fastParams, MaxConcurrent: 1, MaxQueue: 2, MaxWait: maxWait, After: clock.After})
	hold(t, h) // every slot taken

	errc := make(chan error, 2)
	for range 2 {
		go func() { errc <- h.VerifyDummy(ctx, "password1") }()
	}
	assert.Equal(t, []time.Duration{maxWait, maxWait}, clock.Waits(t, 2), "both wait, for MaxWait at most")
	assert.Equal(t, HasherStats{Running: 1, Waiting: 2}, h.Stats())

	// The clock stands still: a caller that waited would never return.
	assert.ErrorIs(t, h.VerifyDummy(ctx, "password1"), ErrBusy, "the queue is full: refused at once")
	assert.Len(t, clock.Pending(), 2, "the refused caller asked for no timer")

	clock.Advance(maxWait - time.Nanosecond)
	assert.Equal(t, HasherStats{Running: 1, Waiting: 2}, h.Stats(), "still waiting just before MaxWait")
	clock.Advance(time.Nanosecond)
	for range 2 {
		assert.ErrorIs(t, <-errc, ErrBusy, "waited MaxWait")
	}
	assert.Equal(t, HasherStats{Running: 1}, h.Stats(), "a refused run must not hold or free a slot")

	// Once the slot frees, work goes on.
	h.release()
	assert.NoError(t, h.VerifyDummy(ctx, "password1"))
}

// A negative MaxQueue lets nobody wait.
func TestHasherNoQueue(t *testing.T) {
	t.Parallel()
	h := NewHasher(HasherOptions{MaxConcurrent: 1, MaxQueue: -1})
	hold(t, h)
	_, err := h.Hash(context.Background(), "password1")
	assert.ErrorIs(t, err, ErrBusy)
}
