// Package fakeclock is a clock for tests: time stands still until the test
// moves it, and its timers fire when it passes their time. Its Now, After
// and AfterFunc methods fit the clock options of this module's packages (a
// Now func() time.Time, an After func(time.Duration) <-chan time.Time, an
// rpc.Clock), so that a test of a back-off, a timeout or an expiry waits
// for nothing: it sees each wait the code asks for (Waits) and ends it
// (Advance, Next). rpc/rpctest.Clock, the public clock for hosts' tests,
// is this one.
package fakeclock

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Start is where a new Clock's time begins.
var Start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is a fake clock, safe for concurrent use. The zero value is not
// usable: call New or At.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	pending []*Timer      // set and not fired, in the order they fire
	asked   chan struct{} // closed and replaced when a timer is set
}

// Timer is a timer of a Clock, made by AfterFunc or After.
type Timer struct {
	c    *Clock
	fire func(at time.Time) // called with c.mu held; must not block
	at   time.Time
	d    time.Duration
}

// New returns a Clock at Start.
func New() *Clock { return At(Start) }

// At returns a Clock at now.
func At(now time.Time) *Clock {
	return &Clock{now: now, asked: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the timer's time once the clock
// has moved d past now; at once, with the clock's time, when d is not
// positive.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1) // fire never blocks: one send per channel
	c.start(&Timer{c: c, fire: func(at time.Time) { ch <- at }}, d)
	return ch
}

// AfterFunc calls f in its own goroutine once the clock has moved d past
// now, as time.AfterFunc does.
func (c *Clock) AfterFunc(d time.Duration, f func()) *Timer {
	return c.start(&Timer{c: c, fire: func(time.Time) { go f() }}, d)
}

func (c *Clock) start(t *Timer, d time.Duration) *Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(t, d)
	return t
}

// Stop stops t from firing, reporting whether it was pending, as
// time.Timer's Stop does.
func (t *Timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.unset(t)
}

// Reset sets t to fire d from the clock's now, reporting whether it was
// pending, as time.Timer's Reset does.
func (t *Timer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.c.unset(t)
	t.c.set(t, d)
	return was
}

// set schedules t d from now and fires what is due; c.mu is held.
func (c *Clock) set(t *Timer, d time.Duration) {
	t.at, t.d = c.now.Add(max(d, 0)), d
	i, _ := slices.BinarySearchFunc(c.pending, t.at, func(p *Timer, at time.Time) int {
		if p.at.After(at) {
			return 1
		}
		return -1 // equal times fire in the order they were set
	})
	c.pending = slices.Insert(c.pending, i, t)
	close(c.asked)
	c.asked = make(chan struct{})
	c.fire()
}

// unset removes t, reporting whether it was pending; c.mu is held.
func (c *Clock) unset(t *Timer) bool {
	i := slices.Index(c.pending, t)
	if i < 0 {
		return false
	}
	c.pending = slices.Delete(c.pending, i, i+1)
	return true
}

// fire fires, in order, every timer whose time has come; c.mu is held.
func (c *Clock) fire() {
	for len(c.pending) > 0 && !c.pending[0].at.After(c.now) {
		t := c.pending[0]
		c.pending = c.pending[1:]
		t.fire(t.at)
	}
}

// Advance moves the clock d forward and fires, in order, every timer whose
// time has come.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.fire()
}

// Pending returns the durations of the timers set and not fired, in the
// order they fire.
func (c *Clock) Pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	ds := make([]time.Duration, len(c.pending))
	for i, t := range c.pending {
		ds[i] = t.d
	}
	return ds
}

// Wait is how long Waits waits for the code under test to set its timers
// before it fails the test: long, because it only ever runs out when the
// code is broken.
const Wait = 10 * time.Second

// Waits waits until n timers are pending, that is until the code under
// test waits on n of them, and returns their durations (see Pending). It
// fails the test if that does not happen within Wait.
func (c *Clock) Waits(t testing.TB, n int) []time.Duration {
	t.Helper()
	deadline := time.NewTimer(Wait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		if len(c.pending) >= n {
			c.mu.Unlock()
			return c.Pending()
		}
		asked := c.asked
		c.mu.Unlock()
		select {
		case <-asked:
		case <-deadline.C:
			t.Fatalf("fake clock: %d timers set within %v, want %d", len(c.Pending()), Wait, n)
			return nil
		}
	}
}

// Next waits until a timer is pending (see Waits), moves the clock to its
// time, which fires it, and returns the duration it was set for.
func (c *Clock) Next(t testing.TB) time.Duration {
	t.Helper()
	c.Waits(t, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	first := c.pending[0]
	c.now = first.at
	c.fire()
	return first.d
}
