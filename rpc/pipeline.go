package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/authrpc/authrpc/auth"
)

// call is a call as its transport read it: everything the pipeline needs to
// know of how it arrived. HTTP and WebSocket fill it in and hand it to
// exchange.run, so that what a call is (authentication, permissions, rate
// limits, parameters, the handler or a void run, the envelope and the call
// record) is one piece of code whatever carried it.
type call struct {
	body       body   // params, and the id of a request object
	token      string // the bearer token; empty for none
	clientAddr string
	userAgent  string // the User-Agent header (of the upgrade, for a socket)
	void       bool
	// upload reads the file of an upload method, once the caller may call
	// it; nil when the call carries none.
	upload func(m *method) ([]json.RawMessage, *Upload, *Error)
	// noUploads is set by a transport that carries no files (WebSocket):
	// an upload method answers CodeUploadOverWebSocket.
	noUploads bool
}

// exchange is one call on its way to an answer.
type exchange struct {
	r         *Registry
	w         replier // the transport's
	m         *method
	ctx       context.Context // the call's, with its deadline; nil before authentication
	rpcID     json.RawMessage // the id of a JSON-RPC request object, echoed
	start     time.Time
	principal *auth.Principal
	void      bool
	badToken  bool // the bearer token did not authenticate

	// The hooks that started the call (see startHooks), and the context
	// they returned; nil without hooks.
	hooks      *[]CallHook
	hookCtx    context.Context
	reservedID string // MethodPing or MethodHealthcheck, answered by the registry

	// Room for what a call of a few parameters needs, so that it costs no
	// allocations of its own: the Call handed to the handler, its
	// arguments, and the raw parameters of a JSON body.
	call     Call
	args     [4]reflect.Value
	raws     [4]json.RawMessage
	deadline callDeadline
	pre      predecoded // of args
}

// run is the call pipeline, for x.m: the method the transport found named
// (and while it read the request, logged its faults against).
func (x *exchange) run(ctx context.Context, c *call) {
	r, m, in := x.r, x.m, &c.body

	// The deadline starts before authentication, so that it reaches the
	// auth cache's read-through as well as the handler's queries.
	base := ctx
	dl := &x.deadline
	dl.start(base, r.callTimeout(m))
	defer func() { dl.cancel() }()
	ctx, x.ctx = dl, dl
	ctx, p, err := r.caller(ctx, c.token) // the one place a call is authenticated
	if err != nil {
		x.finish(Result{}, fmt.Errorf("rpc: authenticate: %w", err))
		return
	}
	x.principal = p
	x.badToken = p == nil && c.token != "" // said in every answer from here on
	if p != nil {
		r.active(p, x.start)
	}
	cl := &x.call
	*cl = Call{Method: m.ID, ClientAddr: c.clientAddr, UserAgent: c.userAgent, Void: c.void}
	x.void = c.void
	if !p.Allowed(m.Permissions) {
		x.decline(NewError(CodeInsufficientPermissions, ""))
		return
	}
	if p != nil && p.Confined != nil && !p.Confined.Methods[m.ID] {
		x.decline(Forbidden("%s", p.Confined.Message).WithMeta(map[string]any{p.Confined.Flag: true}))
		return
	}
	if m.fresh.Load() && !r.authorized(p, x.start) {
		x.decline(AuthorizationRequired())
		return
	}
	key := rateKey(p, cl.ClientAddr)
	if m.limiter != nil && !m.limiter.Allow(key) {
		x.decline(TooManyRequests("too many calls of %s: slow down", m.ID))
		return
	}
	if !m.active.enter(key) {
		x.decline(Errorf(CodeTooManyActive, "too many calls of %s in flight: try again shortly", m.ID))
		return
	}
	counted := true // until a void call takes its count into the background
	defer func() {
		if counted {
			m.active.leave(key)
		}
	}()

	if c.noUploads && m.MaxUploadBytes > 0 {
		x.fail(Errorf(CodeUploadOverWebSocket, "method %s takes an upload: call it over HTTP", m.ID))
		return
	}
	if c.upload != nil {
		raws, up, e := c.upload(m)
		if e != nil {
			x.fail(e)
			return
		}
		in.raws, cl.Upload = raws, up
		// The handler's time starts once the upload is in (BodyTimeout
		// bounded that); authentication had the deadline before it.
		dl.cancel()
		dl = r.callContext(base, m)
		ctx, x.ctx = dl, dl
		if p != nil || auth.FromContext(ctx) != nil {
			ctx = auth.NewContext(ctx, p) // again: the fresh deadline starts from before caller
		}
	}

	if in.paramsErr != nil {
		cl.removeUpload()
		x.fail(in.paramsErr)
		return
	}
	if m.file != nil && c.upload == nil && in.named == nil {
		if in.raws, err = m.withoutFile(in.raws); err != nil {
			cl.removeUpload()
			x.fail(err.(*Error))
			return
		}
	}
	if in.named != nil {
		if in.raws, err = m.positional(in.named); err != nil {
			cl.removeUpload()
			x.fail(err.(*Error))
			return
		}
	}
	var args []reflect.Value
	if n := m.firstParam + len(m.params); n <= len(x.args) {
		args = x.args[:n]
	} else {
		args = make([]reflect.Value, n)
	}
	pre := &x.pre
	if pre.m != m || in.named != nil || c.upload != nil {
		pre = nil // decoded for another method, or for parameters not these
	}
	if e := m.decodeParams(in.raws, args, pre); e != nil {
		cl.removeUpload()
		x.fail(e)
		return
	}
	if m.firstParam == 2 {
		args[1] = reflect.ValueOf(cl.Upload)
	}

	cl.Caller, cl.args = p, args
	dl.call.Store(cl) // CallFromContext finds it from here on
	if x.void {
		// Detached from the request, whose context ends with the answer;
		// a deadline of its own from now.
		bg := r.callContext(context.WithoutCancel(ctx), m)
		x.ctx = bg
		counted = false // a void call is in flight until it ends
		x.runVoid(bg, cl, func() { bg.cancel(); cl.removeUpload(); m.active.leave(key) })
		return
	}
	res, err := m.serve(ctx, cl)
	cl.removeUpload()
	x.finish(res, err)
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// errorFor is Registry.errorFor for this call: a call that failed once its
// deadline passed answers 503, whatever error reported it.
func (x *exchange) errorFor(err error) *Error {
	var e *Error
	if !errors.As(err, &e) && (errors.Is(err, context.DeadlineExceeded) || x.ctx != nil && x.ctx.Err() == context.DeadlineExceeded) {
		x.r.log.WarnContext(x.ctx, "rpc: call passed its deadline", "method", x.m.ID, "timeout", x.r.callTimeout(x.m), "err", err)
		return errDeadline
	}
	return x.r.errorFor(x.ctx, x.m, err)
}

// writeResult answers with res.
func (x *exchange) writeResult(res Result) error {
	return x.r.writeResult(x.w, x.rpcID, res, x.badToken)
}

// writeError answers with e.
func (x *exchange) writeError(e *Error) { x.r.writeError(x.w, x.rpcID, e, x.badToken) }

// finish answers with the handler's result or error and records the call.
func (x *exchange) finish(res Result, err error) {
	if err != nil {
		e := x.errorFor(err)
		x.writeError(e)
		x.record(e.Code, err)
		return
	}
	if werr := x.writeResult(res); werr != nil {
		x.r.log.ErrorContext(x.ctx, "rpc: encode result", "method", x.m.ID, "err", werr)
		x.writeError(errInternal)
		x.record(CodeInternal, werr)
		return
	}
	code := res.Code
	if code == 0 {
		code = CodeOK
	}
	x.record(code, nil)
}

// fail answers an error found before the handler ran.
func (x *exchange) fail(e *Error) {
	x.writeError(e)
	x.record(e.Code, e)
}

// decline answers a refusal for permissions or rate, which the call log counts apart.
func (x *exchange) decline(e *Error) {
	x.writeError(e)
	x.recordDeclined(e.Code)
}
