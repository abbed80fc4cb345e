package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/authrpc/authrpc/auth"
)

// Headers that ask for a void call: answered at once, run in the background.
const (
	HeaderVoidCall    = "X-API-Void-Call"
	headerVoidCallAlt = "API-Call-Void"

	// The same in the canonical form net/http stores them in, so that
	// looking them up costs no canonicalisation on every call.
	canonicalVoidCall    = "X-Api-Void-Call"
	canonicalVoidCallAlt = "Api-Call-Void"
)

// exchange is one HTTP request on its way to an answer.
type exchange struct {
	r         *Registry
	w         http.ResponseWriter
	m         *method
	rpcID     json.RawMessage // the id of a JSON-RPC request object, echoed
	start     time.Time
	principal *auth.Principal
	void      bool
}

// ServeHTTP serves the method named by the request path (or by a JSON-RPC
// request object in the body).
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.servedCORS(w, req) {
		return // a preflight
	}
	x := &exchange{r: r, w: w, start: time.Now()}
	if req.Method != http.MethodPost && req.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		x.fail(Errorf(CodeMethodNotAllowed, "HTTP method %s is not allowed: POST the parameters, or GET a method that takes none", req.Method))
		return
	}
	path, mounted := r.methodPath(req.URL.Path)
	if mounted {
		x.m = r.lookup(path)
	}

	var in body
	multipart := false
	if req.Method == http.MethodGet {
		if req.URL.RawQuery != "" {
			x.fail(BadRequest("a GET takes no query string: POST the parameters as a JSON array"))
			return
		}
	} else {
		switch ct := mediaType(headerValue(req.Header, "Content-Type")); {
		case ct == "" || strings.EqualFold(ct, "application/json"):
			limit := r.opts.MaxBodyBytes
			if x.m != nil && x.m.MaxBodyBytes > 0 {
				limit = x.m.MaxBodyBytes
			}
			buf, e := readBody(w, req, limit)
			if e != nil {
				x.fail(e)
				return
			}
			in, e = parseBody(buf.Bytes())
			defer putBuffer(buf) // the raw parameters point into it until decoded
			x.rpcID = in.id
			if e != nil {
				x.fail(e)
				return
			}
		case strings.EqualFold(ct, "multipart/form-data"):
			multipart = true
		default:
			x.fail(Errorf(CodeUnsupportedMediaType, "unsupported content type %q: send application/json, or multipart/form-data to an upload method", ct))
			return
		}
	}
	if in.method != "" {
		x.m = r.lookup(in.method)
	}
	if x.m == nil {
		id := in.method
		if id == "" {
			id = path
		}
		x.fail(Errorf(CodeMethodNotFound, "method %s not found", Quote(id)))
		return
	}
	m := x.m

	ctx, p, err := r.caller(req.Context(), req.Header) // the one place a call is authenticated
	if err != nil {
		x.finish(Result{}, fmt.Errorf("rpc: authenticate: %w", err))
		return
	}
	x.principal = p
	call := &Call{
		Method:     m.ID,
		ClientAddr: clientAddr(req.RemoteAddr, r.opts.TrustedProxyHeader, r.proxyHeader(req.Header)),
		Void:       isTrue(headerValue(req.Header, canonicalVoidCall)) || isTrue(headerValue(req.Header, canonicalVoidCallAlt)),
	}
	x.void = call.Void
	if !p.Allowed(m.Permissions) {
		x.decline(NewError(CodeInsufficientPermissions, ""))
		return
	}
	if m.limiter != nil && !m.limiter.Allow(rateKey(p, call.ClientAddr)) {
		x.decline(TooManyRequests("too many calls of %s: slow down", m.ID))
		return
	}

	if multipart {
		if m.MaxUploadBytes <= 0 {
			x.fail(Errorf(CodeUnsupportedMediaType, "method %s takes no upload: send application/json", m.ID))
			return
		}
		raws, up, e := r.readMultipart(w, req, m)
		if e != nil {
			x.fail(e)
			return
		}
		in.raws, call.Upload = raws, up
	}
	release := func() {
		if call.Upload != nil {
			call.Upload.remove()
		}
	}

	if in.paramsErr != nil {
		x.fail(in.paramsErr)
		return
	}
	if in.named != nil {
		if in.raws, err = m.positional(in.named); err != nil {
			release()
			x.fail(err.(*Error))
			return
		}
	}
	args := make([]reflect.Value, 1+len(m.params))
	if e := m.decodeParams(in.raws, args); e != nil {
		release()
		x.fail(e)
		return
	}

	ctx = context.WithValue(ctx, callKey{}, call)
	if x.void {
		x.runVoid(ctx, args, release)
		return
	}
	res, err := m.invoke(ctx, args)
	release()
	x.finish(res, err)
}

// runVoid answers at once and runs the call in the background, within the
// registry's bound on void calls.
func (x *exchange) runVoid(ctx context.Context, args []reflect.Value, release func()) {
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
	r.writeResult(x.w, x.rpcID, Result{})
	go func() {
		defer r.endVoid()
		defer release()
		res, err := m.invoke(context.WithoutCancel(ctx), args)
		code := res.Code
		if err != nil {
			code = r.errorFor(m, err).Code
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

// Shutdown refuses further void calls and waits, until ctx ends, for those
// running in the background. Call it after http.Server.Shutdown.
func (r *Registry) Shutdown(ctx context.Context) error {
	r.voidMu.Lock()
	r.voidClosed = true
	r.voidMu.Unlock()
	done := make(chan struct{})
	go func() {
		r.voidWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rpc: shutdown: void calls still running: %w", ctx.Err())
	}
}

// invoke runs the handler, turning a panic into an error.
func (m *method) invoke(ctx context.Context, args []reflect.Value) (res Result, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: debug.Stack()}
		}
	}()
	// A Value of the interface type itself: Call then need not check, on
	// every call, that the concrete context implements context.Context.
	args[0] = reflect.ValueOf(&ctx).Elem()
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

type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

var errInternal = NewError(CodeInternal, "")

// errorFor returns what the caller is told of err: a handler's *Error as it
// is, anything else as an opaque internal error, logged with the method id.
func (r *Registry) errorFor(m *method, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var pe *panicError
	if errors.As(err, &pe) {
		r.log.Error("rpc: handler panicked", "method", m.ID, "panic", fmt.Sprint(pe.value), "stack", string(pe.stack))
	} else {
		r.log.Error("rpc: handler failed", "method", m.ID, "err", err)
	}
	return errInternal
}

// finish answers with the handler's result or error and records the call.
func (x *exchange) finish(res Result, err error) {
	if err != nil {
		e := x.r.errorFor(x.m, err)
		x.r.writeError(x.w, x.rpcID, e)
		x.record(e.Code, err)
		return
	}
	if werr := x.r.writeResult(x.w, x.rpcID, res); werr != nil {
		x.r.log.Error("rpc: encode result", "method", x.m.ID, "err", werr)
		x.r.writeError(x.w, x.rpcID, errInternal)
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
	x.r.writeError(x.w, x.rpcID, e)
	if x.m != nil {
		x.record(e.Code, e)
	}
}

// decline answers a refusal for permissions or rate, which the call log counts apart.
func (x *exchange) decline(e *Error) {
	x.r.writeError(x.w, x.rpcID, e)
	x.recordDeclined(e.Code)
}

func (x *exchange) record(code int, err error) {
	if code == 0 {
		code = CodeOK
	}
	if !x.m.logged {
		return
	}
	var uid int64
	if x.principal != nil {
		uid = x.principal.UserID
	}
	isErr := code < 0 || code >= 400
	x.r.observe(CallRecord{
		Method:     x.m.ID,
		UserID:     uid,
		Start:      x.start,
		Runtime:    time.Since(x.start),
		Code:       code,
		StatusText: statusTextOf(code, err),
		Error:      isErr,
		Exception:  code == CodeInternal && err != nil,
		Void:       x.void,
	})
}

func (x *exchange) recordDeclined(code int) {
	if !x.m.logged {
		return
	}
	var uid int64
	if x.principal != nil {
		uid = x.principal.UserID
	}
	x.r.observe(CallRecord{
		Method: x.m.ID, UserID: uid, Start: x.start, Runtime: time.Since(x.start),
		Code: code, StatusText: StatusText(code), Declined: true, Error: true, Void: x.void,
	})
}

func statusTextOf(code int, err error) string {
	if err == nil {
		return StatusText(code)
	}
	var e *Error
	if errors.As(err, &e) && e.Code == code {
		return e.Message
	}
	return StatusText(code)
}

func rateKey(p *auth.Principal, addr string) string {
	if p.Authenticated() {
		return "u:" + strconv.FormatInt(p.UserID, 10)
	}
	return "a:" + addr
}

// methodPath returns the method id a request path names: the path below
// Options.Prefix. mounted is false for a path outside the prefix.
func (r *Registry) methodPath(path string) (id string, mounted bool) {
	if r.opts.Prefix == "" {
		return path, true
	}
	if rest, ok := strings.CutPrefix(path, r.opts.Prefix); ok && (rest == "" || rest[0] == '/') {
		if rest == "" {
			rest = "/"
		}
		return rest, true
	}
	return path, false
}

// headerValue is h.Get(key) for a key already in canonical form.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (r *Registry) proxyHeader(h http.Header) string {
	if r.opts.TrustedProxyHeader == "" {
		return ""
	}
	return headerValue(h, r.proxyKey)
}

func bearerToken(h string) string {
	const prefix = "Bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):])
	}
	return ""
}

func isTrue(v string) bool {
	return v != "" && (v == "true" || v == "1" || strings.EqualFold(v, "true"))
}

// mediaType returns the type of a Content-Type value, without parameters.
func mediaType(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

// body is a parsed request body.
type body struct {
	raws  []json.RawMessage
	named map[string]json.RawMessage // by-name params of a JSON-RPC request
	// paramsErr is a fault of a JSON-RPC request's params, answered after
	// the permission check.
	paramsErr *Error
	method    string // the method of a JSON-RPC request object
	id        json.RawMessage
}

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 {
		b.Reset()
		bufferPool.Put(b)
	}
}

func readBody(w http.ResponseWriter, req *http.Request, limit int64) (*bytes.Buffer, *Error) {
	buf := bufferPool.Get().(*bytes.Buffer)
	if req.ContentLength > limit {
		putBuffer(buf)
		return nil, Errorf(CodeTooLarge, "request body is larger than %d bytes", limit)
	}
	if req.ContentLength > 0 {
		buf.Grow(int(req.ContentLength))
	}
	if err := readLimited(buf, req.Body, limit); err != nil {
		putBuffer(buf)
		if errors.Is(err, errTooLarge) {
			// Like http.MaxBytesReader: the rest of the body is not read, so
			// the connection cannot be reused.
			w.Header().Set("Connection", "close")
			return nil, Errorf(CodeTooLarge, "request body is larger than %d bytes", limit)
		}
		return nil, BadRequest("could not read the request body")
	}
	return buf, nil
}

var errTooLarge = errors.New("rpc: body too large")

// readLimited reads r to its end into buf, failing with errTooLarge past
// limit bytes. It is http.MaxBytesReader without the allocation.
func readLimited(buf *bytes.Buffer, r io.Reader, limit int64) error {
	for {
		if int64(buf.Len()) > limit {
			return errTooLarge
		}
		if buf.Available() < 512 {
			buf.Grow(512)
		}
		free := buf.AvailableBuffer()[:buf.Available()]
		if room := limit + 1 - int64(buf.Len()); int64(len(free)) > room {
			free = free[:room]
		}
		n, err := r.Read(free)
		buf.Write(free[:n])
		if err == io.EOF {
			if int64(buf.Len()) > limit {
				return errTooLarge
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parseBody reads the positional parameters from a JSON body: an array, any
// other value as the only parameter, nothing as none, or a JSON-RPC 2.0
// request object.
func parseBody(b []byte) (body, *Error) {
	var in body
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return in, nil
	}
	if !utf8.Valid(b) {
		// JSON is UTF-8 (RFC 8259); decoding would quietly turn bad bytes
		// into U+FFFD and store a value the client never sent.
		return in, NewError(CodeParseError, "request body is not valid UTF-8")
	}
	switch b[0] {
	case '[':
		if !json.Valid(b) {
			var v any
			return in, parseError(json.Unmarshal(b, &v))
		}
		in.raws = splitArray(b)
		return in, nil
	case '{':
		if bytes.Contains(b, []byte(`"jsonrpc"`)) {
			var env struct {
				JSONRPC string          `json:"jsonrpc"`
				Method  *string         `json:"method"`
				Params  json.RawMessage `json:"params"`
				ID      json.RawMessage `json:"id"`
			}
			if err := json.Unmarshal(b, &env); err != nil {
				return in, parseError(err)
			}
			if env.JSONRPC == "2.0" && env.Method != nil {
				return parseRequestObject(*env.Method, env.Params, env.ID)
			}
		}
	}
	if !json.Valid(b) {
		var v any
		return in, parseError(json.Unmarshal(b, &v))
	}
	in.raws = []json.RawMessage{b}
	return in, nil
}

// splitArray returns the elements of a well-formed JSON array, as slices
// of b: what json.Unmarshal into []json.RawMessage gives, without decoding
// each element twice.
func splitArray(b []byte) []json.RawMessage {
	var (
		raws     []json.RawMessage
		depth    int
		inString bool
		start    = -1
	)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth == 1 {
				continue // the array itself
			}
		case ']', '}':
			depth--
			if depth == 0 {
				if start >= 0 {
					raws = append(raws, bytes.TrimRight(b[start:i], " \t\r\n"))
				}
				return raws
			}
		case ',':
			if depth == 1 {
				raws = append(raws, bytes.TrimRight(b[start:i], " \t\r\n"))
				start = -1
				continue
			}
		}
		if start < 0 && depth >= 1 {
			start = i
		}
	}
	return raws
}

func parseRequestObject(method string, params, id json.RawMessage) (body, *Error) {
	in := body{method: method, id: id}
	if in.method == "" {
		in.method = "/"
	} else if in.method[0] != '/' {
		in.method = "/" + in.method
	}
	params = bytes.TrimSpace(params)
	if len(params) == 0 || string(params) == "null" {
		return in, nil
	}
	switch params[0] {
	case '[':
		if err := json.Unmarshal(params, &in.raws); err != nil {
			return in, parseError(err)
		}
	case '{':
		if err := json.Unmarshal(params, &in.named); err != nil {
			return in, parseError(err)
		}
	default:
		// Refused once the method's permissions were checked, like any other
		// fault of the parameters.
		in.paramsErr = InvalidParams("params of a JSON-RPC request must be an array or an object")
	}
	return in, nil
}

func parseError(err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return Errorf(CodeParseError, "request body is not valid JSON (at byte %d)", se.Offset)
	}
	return NewError(CodeParseError, "")
}

// positional orders by-name parameters by the method's parameter names.
func (m *method) positional(named map[string]json.RawMessage) ([]json.RawMessage, error) {
	raws := make([]json.RawMessage, len(m.params))
	n := 0
	for i, p := range m.params {
		if v, ok := named[p.Name]; ok {
			raws[i] = v
			n++
		}
	}
	if n != len(named) {
		for name := range named {
			if !m.hasParam(name) {
				return nil, InvalidParams("unknown parameter %q", name)
			}
		}
	}
	for len(raws) > 0 && raws[len(raws)-1] == nil {
		raws = raws[:len(raws)-1]
	}
	return raws, nil
}

func (m *method) hasParam(name string) bool {
	for _, p := range m.params {
		if p.Name == name {
			return true
		}
	}
	return false
}
