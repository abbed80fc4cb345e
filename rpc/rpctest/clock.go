package rpctest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authrpc/authrpc/rpc"
)

// ClockStart is where a new Clock's time begins.
var ClockStart = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is an rpc.Clock for tests (rpc.Options.Clock): its time stands
// still until the test moves it, and its timers fire when it passes their
// time. A test of a socket's pings, its message rate or a session's expiry
// so waits for nothing: it sees each timer the registry sets (Timers) and
// ends it (Advance, Next). It is safe for concurrent use; make one with
// NewClock.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	pending []*clockTimer // in the order they fire
	changed chan struct{} // closed and replaced when a timer is set
}

// NewClock returns a Clock at ClockStart.
func NewClock() *Clock { return &Clock{now: ClockStart, changed: make(chan struct{})} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc calls f in its own goroutine once the clock has moved d past
// now, as time.AfterFunc does.
func (c *Clock) AfterFunc(d time.Duration, f func()) rpc.Timer {
	t := &clockTimer{c: c, f: f}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(t, d)
	return t
}

type clockTimer struct {
	c  *Clock
	f  func()
	at time.Time
	d  time.Duration
}

// set schedules t d from now; c.mu is held.
func (c *Clock) set(t *clockTimer, d time.Duration) {
	t.at, t.d = c.now.Add(d), d
	i, _ := slices.BinarySearchFunc(c.pending, t.at, func(p *clockTimer, at time.Time) int {
		if p.at.After(at) {
			return 1
		}
		return -1 // equal times fire in the order they were set
	})
	c.pending = slices.Insert(c.pending, i, t)
	close(c.changed)
	c.changed = make(chan struct{})
	c.fire()
}

// unset removes t, reporting whether it was pending; c.mu is held.
func (c *Clock) unset(t *clockTimer) bool {
	i := slices.Index(c.pending, t)
	if i < 0 {
		return false
	}
	c.pending = slices.Delete(c.pending, i, i+1)
	return true
}

func (t *clockTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.unset(t)
}

func (t *clockTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.c.unset(t)
	t.c.set(t, d)
	return was
}

// fire starts the function of every timer whose time has come; c.mu is
// held.
func (c *Clock) fire() {
	for len(c.pending) > 0 && !c.pending[0].at.After(c.now) {
		go c.pending[0].f()
		c.pending = c.pending[1:]
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

// ClockWait is how long Timers waits for the registry to set its timers
// before it fails the test: long, as it only runs out when the code is
// broken.
const ClockWait = 10 * time.Second

// Timers waits until n timers are pending and returns their durations (see
// Pending), failing the test if that does not happen within ClockWait.
func (c *Clock) Timers(t testing.TB, n int) []time.Duration {
	t.Helper()
	deadline := time.NewTimer(ClockWait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		if len(c.pending) >= n {
			c.mu.Unlock()
			return c.Pending()
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("rpctest: %d timers set within %v, want %d", len(c.Pending()), ClockWait, n)
			return nil
		}
	}
}

// Next waits until a timer is pending (see Timers), moves the clock to its
// time, which fires it, and returns the duration it was set for.
func (c *Clock) Next(t testing.TB) time.Duration {
	t.Helper()
	c.Timers(t, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	first := c.pending[0]
	c.now = first.at
	c.fire()
	return first.d
}
