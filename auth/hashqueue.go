package auth

import (
	"context"
	"slices"
	"sync"
	"time"
)

// HashPriority orders the callers waiting for a hashing slot (see
// HashClaim): a higher one is served first.
type HashPriority int

// Priorities of a HashClaim.
const (
	// HashPriorityLow is for callers whose recent attempts failed: they
	// are served when nobody else waits, and lose their place in a full
	// queue to anyone else.
	HashPriorityLow HashPriority = -1
	// HashPriorityNormal is the default: a caller nothing is known of.
	HashPriorityNormal HashPriority = 0
	// HashPriorityHigh is for callers known to be genuine: a user signing
	// in from an address they signed in from before, say, or a caller
	// already signed in.
	HashPriorityHigh HashPriority = 1
)

// HashClaim says who waits for a hashing slot, so that the queue for the
// slots is shared fairly: a flood from many addresses does not refuse
// everybody else, and one address does not take every place. Put it on
// the context of Hash, Verify and VerifyDummy with WithHashClaim.
type HashClaim struct {
	// Key names who asks: the AddrKey of the client's address, say.
	// Callers with one key hold at most HasherOptions.MaxQueuePerKey places
	// in the queue, and when the queue is full a newcomer of the same
	// priority takes a place from the key holding the most, if that holds
	// at least two more than the newcomer's. "" is nobody in particular:
	// it has no bound of its own, but is shared fairly all the same.
	Key string

	// Priority: higher is served first, and when the queue is full a
	// newcomer takes the place of the newest waiter of the lowest priority
	// below its own (from the key holding the most places). Default
	// HashPriorityNormal.
	Priority HashPriority
}

type hashClaimKey struct{}

// WithHashClaim returns a copy of ctx carrying c: a Hasher called with it
// waits for a slot as c says.
func WithHashClaim(ctx context.Context, c HashClaim) context.Context {
	return context.WithValue(ctx, hashClaimKey{}, c)
}

// hashClaimFrom returns the claim on ctx: the zero HashClaim when none.
func hashClaimFrom(ctx context.Context) HashClaim {
	c, _ := ctx.Value(hashClaimKey{}).(HashClaim)
	return c
}

// hashQueue hands out a Hasher's slots: at once while one is free, else to
// the waiters by priority, then by arrival. The queue is bounded in all
// and per key; see HashClaim for who makes room for whom when it is full.
// Its operations scan the queue: it holds tens of waiters, not thousands.
type hashQueue struct {
	slots    int
	maxQueue int
	perKey   int
	after    func(time.Duration) <-chan time.Time // times maxWait

	mu      sync.Mutex
	running int           // slots taken
	waiters []*hashWaiter // in order of arrival; only while every slot is taken
	places  map[string]int
}

type hashWaiter struct {
	claim HashClaim
	// turn receives nil with a slot, or ErrBusy when another took the
	// waiter's place. It holds one, so the sender never waits.
	turn chan error
}

// newHashQueue returns a queue; after nil means time.After.
func newHashQueue(slots, maxQueue, perKey int, after func(time.Duration) <-chan time.Time) *hashQueue {
	if after == nil {
		after = time.After
	}
	return &hashQueue{slots: slots, maxQueue: maxQueue, perKey: perKey, after: after, places: make(map[string]int)}
}

// acquire takes a slot for c, or gives up when ctx ends, when the queue has
// no place for c, when c loses its place to another, or after maxWait.
func (q *hashQueue) acquire(ctx context.Context, c HashClaim, maxWait time.Duration) error {
	// A done ctx must not win a free slot by chance.
	if err := ctx.Err(); err != nil {
		return err
	}
	w, err := q.enter(c)
	if w == nil {
		return err // nil: a slot was free
	}
	// A timer left running is collected once unreferenced (Go 1.23).
	expired := q.after(maxWait)
	select {
	case err := <-w.turn:
		return err
	case <-ctx.Done():
		return q.leave(w, ctx.Err())
	case <-expired:
		return q.leave(w, ErrBusy)
	}
}

// enter takes a free slot (nil, nil), queues c (its waiter), or refuses
// it (ErrBusy).
func (q *hashQueue) enter(c HashClaim) (*hashWaiter, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.running < q.slots {
		q.running++
		return nil, nil
	}
	if c.Key != "" && q.places[c.Key] >= q.perKey {
		return nil, ErrBusy
	}
	if len(q.waiters) >= q.maxQueue {
		i := q.victim(c)
		if i < 0 {
			return nil, ErrBusy
		}
		q.drop(i).turn <- ErrBusy
	}
	w := &hashWaiter{claim: c, turn: make(chan error, 1)}
	q.waiters = append(q.waiters, w)
	q.places[c.Key]++
	return w, nil
}

// victim returns the index of the waiter that gives its place to c in a
// full queue, or -1 when none does: the newest waiter of the lowest
// priority whose key holds the most places, if it ranks below c, or ranks
// as c does and its key holds at least two places more than c's.
func (q *hashQueue) victim(c HashClaim) int {
	v := -1
	for i, w := range q.waiters {
		if v < 0 {
			v = i
			continue
		}
		b := q.waiters[v].claim
		if w.claim.Priority < b.Priority ||
			w.claim.Priority == b.Priority && q.places[w.claim.Key] >= q.places[b.Key] {
			v = i
		}
	}
	if v < 0 {
		return -1
	}
	switch b := q.waiters[v].claim; {
	case b.Priority < c.Priority:
		return v
	case b.Priority == c.Priority && q.places[b.Key] > q.places[c.Key]+1:
		return v
	}
	return -1
}

// leave takes w out of the queue after its wait ended with err. Should its
// turn have come meanwhile, the slot it got is handed on.
func (q *hashQueue) leave(w *hashWaiter, err error) error {
	q.mu.Lock()
	if i := slices.Index(q.waiters, w); i >= 0 {
		q.drop(i)
		q.mu.Unlock()
		return err
	}
	q.mu.Unlock()
	if <-w.turn == nil {
		q.release()
	}
	return err
}

// release gives a slot back: to the first waiter of the highest priority,
// or to nobody.
func (q *hashQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	next := -1
	for i, w := range q.waiters {
		if next < 0 || w.claim.Priority > q.waiters[next].claim.Priority {
			next = i
		}
	}
	if next < 0 {
		q.running--
		return
	}
	q.drop(next).turn <- nil
}

// drop takes the waiter at i out of the queue and returns it; q.mu is held.
func (q *hashQueue) drop(i int) *hashWaiter {
	w := q.waiters[i]
	q.waiters = slices.Delete(q.waiters, i, i+1)
	if n := q.places[w.claim.Key] - 1; n > 0 {
		q.places[w.claim.Key] = n
	} else {
		delete(q.places, w.claim.Key)
	}
	return w
}

// stats returns the slots taken and the callers waiting.
func (q *hashQueue) stats() (running, waiting int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running, len(q.waiters)
}
