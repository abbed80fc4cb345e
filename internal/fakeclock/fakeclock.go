// Package fakeclock is a clock for tests: time stands still until the test
// moves it, and the channels After returns fire when it passes their time.
// Its Now and After methods fit the clock options of this module's
// packages (a Now func() time.Time, an After func(time.Duration) <-chan
// time.Time), so that a test of a back-off, a timeout or an expiry waits
// for nothing: it sees each wait the code asks for (Waits) and ends it
// (Advance).
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
// usable: call New.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	pending []*timer      // After's channels not fired yet, in order of their time
	asked   chan struct{} // closed and replaced when After is called
}

type timer struct {
	at time.Time
	d  time.Duration
	ch chan time.Time
}

// New returns a Clock at Start.
func New() *Clock {
	return &Clock{now: Start, asked: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once the clock
// has moved d past now; at once when d is not positive.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	t := &timer{at: c.now.Add(d), d: d, ch: ch}
	i, _ := slices.BinarySearchFunc(c.pending, t.at, func(p *timer, at time.Time) int {
		if p.at.After(at) {
			return 1
		}
		return -1 // equal times fire in the order they were asked for
	})
	c.pending = slices.Insert(c.pending, i, t)
	close(c.asked)
	c.asked = make(chan struct{})
	return ch
}

// Advance moves the clock d forward and fires, in order, every channel
// whose time has come.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moveTo(c.now.Add(d))
}

// moveTo sets the clock to now and fires the channels due; c.mu is held.
func (c *Clock) moveTo(now time.Time) {
	c.now = now
	for len(c.pending) > 0 && !c.pending[0].at.After(c.now) {
		c.pending[0].ch <- c.pending[0].at
		c.pending = c.pending[1:]
	}
}

// Pending returns the durations asked of After whose channels have not
// fired, in the order they will.
func (c *Clock) Pending() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	ds := make([]time.Duration, len(c.pending))
	for i, t := range c.pending {
		ds[i] = t.d
	}
	return ds
}

// Wait is how long Waits waits for the code under test to ask for its
// waits before it fails the test: long, because it only ever runs out
// when the code is broken.
const Wait = 10 * time.Second

// Waits waits until n channels are pending, that is until the code under
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
			t.Fatalf("fakeclock: %d waits asked for within %v, want %d", len(c.Pending()), Wait, n)
			return nil
		}
	}
}

// Next waits until a channel is pending (see Waits), moves the clock to
// its time, which fires it, and returns the duration it was asked for.
func (c *Clock) Next(t testing.TB) time.Duration {
	t.Helper()
	c.Waits(t, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	first := c.pending[0]
	c.moveTo(first.at)
	return first.d
}
