package rpctest

import (
	"testing"
	"time"

	"github.com/authrpc/authrpc/internal/fakeclock"
	"github.com/authrpc/authrpc/rpc"
)

// ClockStart is where a new Clock's time begins: 2030-01-02 03:04:05 UTC.
var ClockStart = fakeclock.Start

// Clock is an rpc.Clock for tests (rpc.Options.Clock): its time stands
// still until the test moves it, and its timers fire when it passes their
// time. A test of a socket's pings, its message rate or a session's expiry
// so waits for nothing: it sees each timer the registry sets (Timers) and
// ends it (Advance, Next). It is safe for concurrent use; make one with
// NewClock.
type Clock struct {
	c *fakeclock.Clock
}

// NewClock returns a Clock at ClockStart.
func NewClock() *Clock { return &Clock{c: fakeclock.At(ClockStart)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return c.c.Now() }

// AfterFunc calls f in its own goroutine once the clock has moved d past
// now, as time.AfterFunc does.
func (c *Clock) AfterFunc(d time.Duration, f func()) rpc.Timer { return c.c.AfterFunc(d, f) }

// Advance moves the clock d forward and fires, in order, every timer whose
// time has come.
func (c *Clock) Advance(d time.Duration) { c.c.Advance(d) }

// Pending returns the durations of the timers set and not fired, in the
// order they fire.
func (c *Clock) Pending() []time.Duration { return c.c.Pending() }

// ClockWait, ten seconds, is how long Timers waits for the registry to set its timers
// before it fails the test: long, as it only runs out when the code is
// broken.
const ClockWait = fakeclock.Wait

// Timers waits until n timers are pending and returns their durations (see
// Pending), failing the test if that does not happen within ClockWait.
func (c *Clock) Timers(t testing.TB, n int) []time.Duration {
	t.Helper()
	return c.c.Waits(t, n)
}

// Next waits until a timer is pending (see Timers), moves the clock to its
// time, which fires it, and returns the duration it was set for.
func (c *Clock) Next(t testing.TB) time.Duration {
	t.Helper()
	return c.c.Next(t)
}
