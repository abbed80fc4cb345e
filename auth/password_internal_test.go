package auth

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests hold the Hasher's slots themselves, so they see the bound
// deterministically: no timing, and argon2 itself is not mocked.

func TestHasherBoundHolds(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(HasherOptions{
		Params:        &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		MaxConcurrent: 2,
	})
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
	for name, run := range map[string]func(context.Context) error{
		"Hash":        func(ctx context.Context) error { _, err := h.Hash(ctx, "password1"); return err },
		"Verify":      func(ctx context.Context) error { _, err := h.Verify(ctx, "password1", hash); return err },
		"VerifyDummy": func(ctx context.Context) error { return h.VerifyDummy(ctx, "password1") },
	} {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err := run(ctx)
		cancel()
		assert.ErrorIs(t, err, context.DeadlineExceeded, name)
	}
	assert.Equal(t, HasherStats{Running: 2}, h.Stats(), "a run that gave up must not hold or free a slot")

	// A waiting run goes ahead as soon as a slot frees.
	done := make(chan bool)
	go func() {
		ok, err := h.Verify(ctx, "password1", hash)
		assert.NoError(t, err)
		done <- ok
	}()
	select {
	case <-done:
		t.Fatal("Verify ran with every slot taken")
	case <-time.After(20 * time.Millisecond):
	}
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
	h := NewHasher(HasherOptions{MaxConcurrent: 1})
	hold(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := h.Hash(ctx, "password1")
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond) // let it reach the wait; the outcome is the same if not
	cancel()
	assert.ErrorIs(t, <-errc, context.Canceled)
}

func TestHasherDummyMatchesParams(t *testing.T) {
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
	ctx := context.Background()
	h := NewHasher(HasherOptions{
		Params:        &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		MaxConcurrent: 1,
		MaxQueue:      2,
		MaxWait:       300 * time.Millisecond,
	})
	hold(t, h) // every slot taken

	errc := make(chan error, 2)
	for range 2 {
		go func() { errc <- h.VerifyDummy(ctx, "password1") }()
	}
	require.Eventually(t, func() bool { return h.Stats().Waiting == 2 }, 5*time.Second, time.Millisecond)

	start := time.Now()
	err := h.VerifyDummy(ctx, "password1")
	assert.ErrorIs(t, err, ErrBusy, "the queue is full")
	assert.Less(t, time.Since(start), 50*time.Millisecond, "refused at once")

	for range 2 {
		assert.ErrorIs(t, <-errc, ErrBusy, "waited MaxWait")
	}
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	assert.Equal(t, HasherStats{Running: 1}, h.Stats(), "a refused run must not hold or free a slot")

	// Once the slot frees, work goes on.
	h.release()
	assert.NoError(t, h.VerifyDummy(ctx, "password1"))
}

// A negative MaxQueue lets nobody wait.
func TestHasherNoQueue(t *testing.T) {
	h := NewHasher(HasherOptions{MaxConcurrent: 1, MaxQueue: -1})
	hold(t, h)
	_, err := h.Hash(context.Background(), "password1")
	assert.ErrorIs(t, err, ErrBusy)
}
