package rpc

import "context"

// Transports a call can arrive on, as CallStart names them.
const (
	TransportHTTP      = "http"
	TransportWebSocket = "websocket"
)

// CallStart is what is known of a call when it starts: how it arrived and
// the trace context it came with. Its method is known only at its end (an
// HTTP request object at the mount root names it in its body).
type CallStart struct {
	Transport string // TransportHTTP or TransportWebSocket
	// TraceParent and TraceState are the W3C trace context the call came
	// with: the traceparent and tracestate headers of an HTTP request, or
	// the members of the same names of a WebSocket call frame. Empty when
	// it came with none.
	TraceParent string
	TraceState  string
}

// A CallHook sees every call a registry answers, of any method or of none
// (a path that names no method), whether or not the method keeps a call
// log: what a metrics exporter or a tracer needs. The hooks of the metrics
// and tracing packages are CallHooks.
//
// A call that never reaches a method, such as a WebSocket frame that is
// not valid JSON, or a socket's own messages (/subscribe, /event), is no
// call here.
type CallHook interface {
	// StartCall runs on the request's (or the frame's) goroutine before the
	// call is authenticated. The context it returns is the call's from then
	// on: the handler's, and EndCall's. Return ctx itself to add nothing.
	StartCall(ctx context.Context, s CallStart) context.Context
	// EndCall runs once for every StartCall, after the call is answered
	// (a void call: after it ran in the background), with the context
	// StartCall returned. rec.Method is empty for a call of a method that
	// does not exist. Like Observer.ObserveCall it must not block.
	EndCall(ctx context.Context, rec CallRecord)
}

// Hook adds a hook that sees every call from then on. Add hooks before
// serving: a call already started does not reach a hook added meanwhile.
func (r *Registry) Hook(h CallHook) {
	if h == nil {
		panic("rpc: Hook: nil hook")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var list []CallHook
	if old := r.hooks.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, h)
	r.hooks.Store(&list)
}

// startHooks starts the call in every hook, and returns the context the
// call goes on with. Transports read what CallStart needs only when
// r.hooks holds some: without hooks a call costs one atomic load.
func (x *exchange) startHooks(ctx context.Context, hooks *[]CallHook, s CallStart) context.Context {
	x.hooks = hooks
	for _, h := range *hooks {
		ctx = h.StartCall(ctx, s)
	}
	x.hookCtx = ctx
	return ctx
}

// endHooks ends the call in the hooks that started it, in the reverse order.
func (x *exchange) endHooks(rec CallRecord) {
	hooks := x.hooks
	if hooks == nil {
		return
	}
	x.hooks = nil // once
	for i := len(*hooks) - 1; i >= 0; i-- {
		(*hooks)[i].EndCall(x.hookCtx, rec)
	}
}
