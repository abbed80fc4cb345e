package rpc

import (
	"context"
	"reflect"
	"runtime/debug"
)

// CallFunc runs a call that has passed the permission check and whose
// parameters are decoded: the method's handler, or the next middleware on
// the way to it. Its context carries the caller (auth.FromContext) and c
// (CallFromContext).
type CallFunc func(ctx context.Context, c *Call) (Result, error)

// Middleware wraps a call, as func(http.Handler) http.Handler wraps a
// request: code before next runs before the handler, code after it sees the
// answer, and a middleware that does not call next refuses the call with the
// error it returns (an *Error for the caller to read; any other error is an
// opaque 500). A refusal is answered and recorded in the call log as the
// error it is. Middleware runs for HTTP and WebSocket calls, and for void
// calls in the background, after authentication, the permission check, the
// rate limit and the parameter check; it does not run for calls refused
// before it.
type Middleware func(next CallFunc) CallFunc

// chain returns h wrapped in mws, the first outermost.
func chain(h CallFunc, mws ...[]Middleware) CallFunc {
	for i := len(mws) - 1; i >= 0; i-- {
		for j := len(mws[i]) - 1; j >= 0; j-- {
			h = mws[i][j](h)
		}
	}
	return h
}

// serve runs the method's middleware and handler for c, turning a panic in
// either into an error.
func (m *method) serve(ctx context.Context, c *Call) (res Result, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: debug.Stack()}
		}
	}()
	return m.call(ctx, c)
}

// handler is the innermost CallFunc: the method's Go function.
func (m *method) handler(ctx context.Context, c *Call) (Result, error) {
	args := c.args
	// A Value of the interface type itself: Call then need not check, on
	// every call, that the concrete context implements context.Context.
	// It points into c, which is on the heap already: &ctx would move ctx there.
	c.ctx = ctx
	args[0] = reflect.ValueOf(&c.ctx).Elem()
	out := m.fn.Call(args)
	last := out[len(out)-1]
	if !last.IsNil() {
		return Result{}, last.Interface().(error)
	}
	if !m.hasData {
		return Result{}, nil
	}
	switch data := out[0].Interface().(type) {
	case Result:
		return data, nil
	case *Result:
		if data != nil {
			return *data, nil
		}
		return Result{}, nil
	default:
		return Result{Data: data}, nil
	}
}
