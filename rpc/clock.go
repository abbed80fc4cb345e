package rpc

import "time"

// Clock is the time a Registry reads and waits on: the times of a
// CallRecord, Method.RateLimit, a socket's message rate, its protocol
// pings and their timeout, a session's expiry, the grace a closing socket
// gives its calls in flight, and the body timeout where the connection's
// read deadline cannot be set. Deadlines that belong to the connection or
// to a context (Options.BodyTimeout set on the connection,
// Options.CallTimeout, WebSocketOptions.WriteTimeout) run on the real
// clock. A test passes a clock it moves itself (rpctest.Clock), so that
// it waits for no time to pass.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed, as
	// time.AfterFunc does.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a Clock's timer: what Stop and Reset of a *time.Timer do.
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// realClock is the default Clock: package time's.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
