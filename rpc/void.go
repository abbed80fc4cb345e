package rpc

import "context"

// Headers that ask for a void call: answered at once, run in the background.
const (
	HeaderVoidCall    = "X-API-Void-Call"
	headerVoidCallAlt = "API-Call-Void"

	// The same in the canonical form net/http stores them in, so that
	// looking them up costs no canonicalisation on every call.
	canonicalVoidCall    = "X-Api-Void-Call"
	canonicalVoidCallAlt = "Api-Call-Void"
)

// runVoid answers at once and runs the call in the background, within the
// registry's bound on void calls.
func (x *exchange) runVoid(ctx context.Context, cl *Call, release func()) {
	r, m := x.r, x.m
	if m.NoVoid {
		release()
		x.fail(BadRequest("method %s does not accept void calls", m.ID))
		return
	}
	if !r.startVoid() {
		release()
		x.decline(TooManyRequests("too many void calls in flight"))
		return
	}
	x.writeResult(Result{})
	go func() {
		defer r.endVoid()
		defer release()
		res, err := m.serve(ctx, cl)
		code := res.Code
		if err != nil {
			code = x.errorFor(err).Code
		}
		x.record(code, err)
	}()
}

func (r *Registry) startVoid() bool {
	r.voidMu.Lock()
	defer r.voidMu.Unlock()
	if r.voidClosed {
		return false
	}
	select {
	case r.voidSem <- struct{}{}:
		r.voidWG.Add(1)
		return true
	default:
		return false
	}
}

func (r *Registry) endVoid() {
	<-r.voidSem
	r.voidWG.Done()
}
