package rpc

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// callDeadline is the context of a call: context.WithDeadline, without a
// timer until something waits for it. Most calls end before any code asks
// their context for Done, and a timer per call (made, put on the runtime's
// heap, stopped) was a tenth of a short call's cost. The first Done, or an
// Err that finds the call over, makes the context.WithDeadline it stands
// for, and from then on every method forwards to that context, so that
// children (context.WithCancel, context.AfterFunc) attach to it as to any
// other.
type callDeadline struct {
	parent   context.Context
	deadline time.Time

	// call, once set, is the Call a handler serves (CallFromContext): the
	// value context.WithValue would otherwise add above.
	call atomic.Pointer[Call]

	made atomic.Pointer[madeContext]
	mu   sync.Mutex // making made; ended
	// ended is the error of a call cancelled before made was: what Err
	// would have answered at that moment.
	ended error
}

type madeContext struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// callContext returns ctx with the deadline of a call of m from now;
// cancel it once the call is over.
func (r *Registry) callContext(ctx context.Context, m *method) *callDeadline {
	c := new(callDeadline)
	c.start(ctx, r.callTimeout(m))
	return c
}

// start makes the zero c ctx with a deadline timeout from now.
func (c *callDeadline) start(ctx context.Context, timeout time.Duration) {
	at := time.Now().Add(timeout)
	if cur, ok := ctx.Deadline(); ok && cur.Before(at) {
		at = cur
	}
	c.parent, c.deadline = ctx, at
}

func (c *callDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *callDeadline) Done() <-chan struct{} { return c.context().Done() }

func (c *callDeadline) Err() error {
	if m := c.made.Load(); m != nil {
		return m.ctx.Err()
	}
	c.mu.Lock()
	ended := c.ended
	c.mu.Unlock()
	if ended == nil && c.parent.Err() == nil && time.Now().Before(c.deadline) {
		return nil
	}
	return c.context().Err()
}

func (c *callDeadline) Value(key any) any {
	if _, ok := key.(callKey); ok {
		if cl := c.call.Load(); cl != nil {
			return cl
		}
	}
	if m := c.made.Load(); m != nil {
		return m.ctx.Value(key) // context.WithCancel finds the made context's cancel here
	}
	return c.parent.Value(key)
}

func (c *callDeadline) String() string { return "rpc.callDeadline" }

// cancel ends the call's context, as a context.CancelFunc does.
func (c *callDeadline) cancel() {
	c.mu.Lock()
	m := c.made.Load()
	if m == nil && c.ended == nil {
		switch err := c.parent.Err(); {
		case err != nil:
			c.ended = err
		case !time.Now().Before(c.deadline):
			c.ended = context.DeadlineExceeded
		default:
			c.ended = context.Canceled
		}
	}
	c.mu.Unlock()
	if m != nil {
		m.cancel()
	}
}

// context returns the context c stands for, making it on first use.
func (c *callDeadline) context() context.Context {
	if m := c.made.Load(); m != nil {
		return m.ctx
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.made.Load(); m != nil {
		return m.ctx
	}
	m := new(madeContext)
	if c.ended != nil {
		m.ctx, m.cancel = endedContext{c.parent, c.ended}, func() {}
	} else {
		m.ctx, m.cancel = context.WithDeadline(c.parent, c.deadline)
	}
	c.made.Store(m)
	return m.ctx
}

// endedContext is a context that ended with err before anything waited
// for it.
type endedContext struct {
	context.Context // the parent, for values
	err             error
}

var closedDone = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

func (e endedContext) Done() <-chan struct{} { return closedDone }

func (e endedContext) Err() error { return e.err }

// callTimeout returns the deadline of a call of m.
func (r *Registry) callTimeout(m *method) time.Duration {
	if m.Timeout > 0 {
		return m.Timeout
	}
	return r.opts.CallTimeout
}
