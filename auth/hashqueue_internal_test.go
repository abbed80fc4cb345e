package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests drive the queue by hand, one step at a time: who enters,
// who is refused, who is displaced, who is served next. No goroutines, no
// timing.

// full returns a queue whose one slot is taken.
func full(t *testing.T, maxQueue, perKey int) *hashQueue {
	t.Helper()
	q := newHashQueue(1, maxQueue, perKey, nil)
	w, err := q.enter(HashClaim{})
	require.NoError(t, err)
	require.Nil(t, w, "the free slot is taken at once")
	return q
}

func enters(t *testing.T, q *hashQueue, c HashClaim) *hashWaiter {
	t.Helper()
	w, err := q.enter(c)
	require.NoError(t, err, "%+v", c)
	require.NotNil(t, w, "%+v waits", c)
	return w
}

func refused(t *testing.T, q *hashQueue, c HashClaim) {
	t.Helper()
	w, err := q.enter(c)
	assert.ErrorIs(t, err, ErrBusy, "%+v", c)
	assert.Nil(t, w)
}

// turn reports what w has been told: "slot", "displaced" or "waiting".
func turn(w *hashWaiter) string {
	select {
	case err := <-w.turn:
		if err == nil {
			return "slot"
		}
		return "displaced"
	default:
		return "waiting"
	}
}

func TestHashQueuePerKeyBound(t *testing.T) {
	t.Parallel()
	q := full(t, 8, 2)
	a := HashClaim{Key: "192.0.2.1"}
	enters(t, q, a)
	enters(t, q, a)
	refused(t, q, a) // its share is taken, though the queue has room
	enters(t, q, HashClaim{Key: "192.0.2.2"})
	enters(t, q, HashClaim{}) // no key: no bound of its own
	enters(t, q, HashClaim{})
	enters(t, q, HashClaim{})
	assert.Equal(t, 6, len(q.waiters))
}

// In a full queue, a newcomer of the same priority takes a place from the
// key holding the most, until the two hold about as many.
func TestHashQueueFairShare(t *testing.T) {
	t.Parallel()
	q := full(t, 4, 4)
	a, b := HashClaim{Key: "a"}, HashClaim{Key: "b"}
	as := []*hashWaiter{enters(t, q, a), enters(t, q, a), enters(t, q, a), enters(t, q, a)}
	refused(t, q, a)

	enters(t, q, b)
	assert.Equal(t, "displaced", turn(as[3]), "the newest of a")
	enters(t, q, b)
	assert.Equal(t, "displaced", turn(as[2]))
	refused(t, q, b) // 2 and 2: even
	assert.Equal(t, map[string]int{"a": 2, "b": 2}, q.places)
	for _, w := range as[:2] {
		assert.Equal(t, "waiting", turn(w))
	}
}

// A newcomer takes the place of a waiter of lower priority, and goes
// before it; a higher one keeps its place.
func TestHashQueuePriority(t *testing.T) {
	t.Parallel()
	q := full(t, 2, 2)
	low1 := enters(t, q, HashClaim{Key: "x", Priority: HashPriorityLow})
	low2 := enters(t, q, HashClaim{Key: "y", Priority: HashPriorityLow})
	normal := enters(t, q, HashClaim{Key: "z"})
	assert.Equal(t, "displaced", turn(low2), "the newest low")
	high := enters(t, q, HashClaim{Key: "x", Priority: HashPriorityHigh})
	assert.Equal(t, "displaced", turn(low1))
	refused(t, q, HashClaim{Key: "w", Priority: HashPriorityLow})
	refused(t, q, HashClaim{Key: "w"}) // the normal one has no more places than w would

	q.release()
	assert.Equal(t, "slot", turn(high), "the highest goes first, though it came last")
	assert.Equal(t, "waiting", turn(normal))
	q.release()
	assert.Equal(t, "slot", turn(normal))
	q.release()
	running, waiting := q.stats()
	assert.Equal(t, [2]int{0, 0}, [2]int{running, waiting})
}

// Within a priority, the first to come is served first.
func TestHashQueueArrivalOrder(t *testing.T) {
	t.Parallel()
	q := full(t, 8, 8)
	var ws []*hashWaiter
	for i := range 4 {
		ws = append(ws, enters(t, q, HashClaim{Key: fmt.Sprint(i)}))
	}
	for i, w := range ws {
		q.release()
		assert.Equal(t, "slot", turn(w), "waiter %d", i)
		for _, later := range ws[i+1:] {
			assert.Equal(t, "waiting", turn(later))
		}
	}
}

// The flood of the attack: a full queue of low-priority waiters from many
// addresses. A caller of normal priority, and one of high, each get in
// and are served next, every time.
func TestHashQueueFloodFromManyAddresses(t *testing.T) {
	t.Parallel()
	q := full(t, 16, 4)
	for i := range 200 {
		q.enter(HashClaim{Key: fmt.Sprintf("198.51.100.%d", i), Priority: HashPriorityLow})
	}
	require.Equal(t, 16, len(q.waiters))
	for _, prio := range []HashPriority{HashPriorityNormal, HashPriorityHigh} {
		for range 9 {
			w := enters(t, q, HashClaim{Key: "203.0.113.7", Priority: prio})
			q.release()
			require.Equal(t, "slot", turn(w))
			// The flood fills the place again.
			q.enter(HashClaim{Key: "198.51.100.250", Priority: HashPriorityLow})
			require.Equal(t, 16, len(q.waiters))
		}
	}
}

// A waiter that gives up leaves the queue and holds nothing; one whose
// slot came just as it gave up hands the slot on.
func TestHashQueueLeave(t *testing.T) {
	t.Parallel()
	q := full(t, 4, 4)
	w1 := enters(t, q, HashClaim{Key: "a"})
	w2 := enters(t, q, HashClaim{Key: "b"})
	assert.ErrorIs(t, q.leave(w1, context.Canceled), context.Canceled)
	assert.Equal(t, map[string]int{"b": 1}, q.places)

	q.release()                                      // w2's turn comes...
	assert.ErrorIs(t, q.leave(w2, ErrBusy), ErrBusy) // ...as it gives up
	running, waiting := q.stats()
	assert.Equal(t, [2]int{0, 0}, [2]int{running, waiting}, "the slot went back")

	// Through acquire, with the timer (already run out) and the context.
	q = full(t, 4, 4)
	var asked []time.Duration
	q.after = func(d time.Duration) <-chan time.Time {
		asked = append(asked, d)
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		return ch
	}
	assert.ErrorIs(t, q.acquire(context.Background(), HashClaim{}, time.Minute), ErrBusy)
	assert.Equal(t, []time.Duration{time.Minute}, asked, "the wait is timed by maxWait")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, q.acquire(ctx, HashClaim{}, time.Hour), context.Canceled)
	running, waiting = q.stats()
	assert.Equal(t, [2]int{1, 0}, [2]int{running, waiting})
}

func TestHashClaimOnContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	assert.Equal(t, HashClaim{}, hashClaimFrom(ctx))
	c := HashClaim{Key: "2001:db8::/64", Priority: HashPriorityHigh}
	assert.Equal(t, c, hashClaimFrom(WithHashClaim(ctx, c)))
}
