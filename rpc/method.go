package rpc

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc/read"
	"github.com/invopop/jsonschema"
)

// Method describes a method to Register.
type Method struct {
	// ID is the method's path, such as "/v1/admin/users/read". Within a
	// Section it may be relative to the section's prefix ("read").
	ID string

	// Title is a one-line summary; Description is Markdown shown under it
	// in the reference.
	Title       string
	Description string

	// Permissions are the tags a caller must pass, any of them: auth.Anyone,
	// auth.Guest, auth.User, auth.Root or a permission name declared in
	// Options.Permissions by the time the method is registered (Register
	// panics otherwise, so that a typo cannot leave a method to root alone).
	Permissions []string

	// Params name the handler's positional parameters, in order.
	Params []Param

	// Handler is a func(context.Context, T1, …, Tn) (R, error) or
	// func(context.Context, T1, …, Tn) error, with one Ti per Param.
	// R is sent as the result's data; return a Result to add meta or answer 204.
	Handler any

	// Timeout is the deadline of a call; 0 takes the registry's
	// Options.CallTimeout.
	Timeout time.Duration

	// NoCallLog leaves the method's calls out of the call log.
	NoCallLog bool

	// NoVoid refuses void calls (the X-API-Void-Call header) with 400.
	NoVoid bool

	// MaxBodyBytes bounds the JSON body; 0 takes the registry's default.
	MaxBodyBytes int64

	// BodyTimeout bounds how long the body (or the upload) may take to
	// arrive; 0 takes the registry's Options.BodyTimeout. Raise it for a
	// method that takes large uploads over slow links.
	BodyTimeout time.Duration

	// MaxUploadBytes, when positive, makes the method accept a
	// multipart/form-data upload (a "file" part and an optional "params"
	// part) of at most this many bytes. A handler whose first parameter
	// after the context is a *Upload receives the file there (nil when the
	// call sent none), and the params part fills the ones after it, which
	// are the Params; any handler may also read it with UploadFromContext.
	MaxUploadBytes int64

	// RateLimit, when set, limits calls per caller (the user, or the client
	// address for guests); past it the call is declined with 429.
	RateLimit *RateLimit

	// Middleware wraps this method's calls, inside Options.Middleware, the
	// first outermost (see Middleware). Default: none.
	Middleware []Middleware

	// MaxActive, when positive, bounds the calls of the method in flight
	// on this registry; a call past it is declined with CodeTooManyActive
	// (HTTP 429). MaxActivePerUser bounds them per caller (the user, or
	// the client address for guests) the same way. 0: no bound.
	MaxActive        int
	MaxActivePerUser int

	// RequireAuthorization refuses a caller whose session was not
	// authorized (/v1/session/authorize, auth.Principal.AuthorizedAt)
	// within Options.AuthorizedMaxAge: 403 with
	// error.data.meta.authorization_required true, after the permission
	// check. For sensitive changes (ending every other session, enrolling
	// a second factor) that a stolen, still signed-in session should not
	// make alone. An API token is never authorized. A host requires it of
	// methods it did not define with Registry.RequireAuthorization.
	RequireAuthorization bool

	// DataType is the Go type of the data of a handler that returns a
	// Result, such as reflect.TypeFor[[]Row]() for one that answers
	// ReadPage(o, rows, n), so that the OpenAPI document describes the data
	// as it does a handler's R. Other handlers ignore it: their R says it.
	// Default: nil, the data is any value.
	DataType reflect.Type
}

// RateLimit is a token bucket: Burst calls at once, refilled at PerSecond.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Param describes a positional parameter.
type Param struct {
	// Name as shown in the reference; a trailing "?" marks it optional,
	// as does Optional. Optional parameters come last.
	Name        string
	Description string
	Optional    bool

	// Schema replaces the schema reflected from the handler's parameter type.
	// Incoming values are checked against it, then decoded into that type.
	Schema *jsonschema.Schema

	// Read declares the read options that a read.Options parameter accepts.
	Read *read.Spec
}

var methodID = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)

var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var (
	contextType     = reflect.TypeFor[context.Context]()
	errorType       = reflect.TypeFor[error]()
	readOptionsType = reflect.TypeFor[read.Options]()
)

// method is a registered Method, compiled for serving.
type method struct {
	Method
	section string // the prefix of the Section it was registered in; "" for none
	params  []*param
	fn      reflect.Value
	hasData bool               // the handler returns (R, error)
	result  *jsonschema.Schema // the data R is sent as; nil without data
	limiter *auth.Limiter
	active  *activeCalls
	logged  bool
	call    CallFunc // the middleware around the handler
	// firstParam is the handler's argument of params[0]: 1, or 2 when
	// the upload comes first (a *Upload at 1, described by file).
	firstParam int
	file       *Param
	// fresh: calls need a recent authorization (Method.RequireAuthorization,
	// or Registry.RequireAuthorization after Register).
	fresh atomic.Bool
}

var uploadType = reflect.TypeFor[*Upload]()

func (r *Registry) compile(def Method, section string) (*method, error) {
	if !methodID.MatchString(def.ID) {
		return nil, fmt.Errorf("an id is a path such as /v1/users/read")
	}
	if len(def.Permissions) == 0 {
		return nil, fmt.Errorf("no permissions: list at least one tag (auth.Anyone for everyone)")
	}
	for _, tag := range def.Permissions {
		if err := r.perms.CheckTag(tag); err != nil {
			return nil, err
		}
	}
	if def.MaxUploadBytes > r.opts.MaxSpooledBytes {
		return nil, fmt.Errorf("MaxUploadBytes %d is more than the registry's MaxSpooledBytes %d: raise Options.MaxSpooledBytes", def.MaxUploadBytes, r.opts.MaxSpooledBytes)
	}
	fn := reflect.ValueOf(def.Handler)
	if fn.Kind() != reflect.Func {
		return nil, fmt.Errorf("the handler is %T, not a func", def.Handler)
	}
	ft := fn.Type()
	first := 1 // the handler's argument of the first decoded Param
	if def.MaxUploadBytes > 0 && ft.NumIn() > 1 && ft.In(1) == uploadType {
		if len(def.Params) == 0 {
			return nil, fmt.Errorf("a handler taking the *rpc.Upload first names it as Params[0]")
		}
		first = 2
	}
	if len(def.Params) > maxParams {
		return nil, fmt.Errorf("%d params: a method takes at most %d", len(def.Params), maxParams)
	}
	if ft.IsVariadic() || ft.NumIn() != 1+len(def.Params) || ft.In(0) != contextType {
		return nil, fmt.Errorf("the handler must take (context.Context, …) with one argument per param (%d params)", len(def.Params))
	}
	m := &method{Method: def, section: section, fn: fn, logged: !def.NoCallLog, firstParam: first}
	m.fresh.Store(def.RequireAuthorization)
	switch {
	case ft.NumOut() == 1 && ft.Out(0) == errorType:
	case ft.NumOut() == 2 && ft.Out(1) == errorType:
		m.hasData = true
		m.result = r.resultSchema(ft.Out(0), def.DataType)
	default:
		return nil, fmt.Errorf("the handler must return (R, error) or error")
	}
	seenOptional := false
	for i, p := range def.Params {
		if strings.HasSuffix(p.Name, "?") {
			p.Name = strings.TrimSuffix(p.Name, "?")
			p.Optional = true
		}
		if !paramName.MatchString(p.Name) {
			return nil, fmt.Errorf("param %d: %q is not a name", i+1, p.Name)
		}
		if seenOptional && !p.Optional {
			return nil, fmt.Errorf("param %d (%s): a required param after an optional one", i+1, p.Name)
		}
		seenOptional = seenOptional || p.Optional
		if i == 0 && first == 2 {
			m.file = &p // filled by the upload, not the params part
			continue
		}
		cp, err := r.compileParam(i, p, ft.In(i+1))
		if err != nil {
			return nil, fmt.Errorf("param %d (%s): %w", i+1, p.Name, err)
		}
		m.params = append(m.params, cp)
	}
	m.call = chain(m.handler, r.opts.Middleware, def.Middleware)
	if def.RateLimit != nil {
		m.limiter = auth.NewLimiter(auth.LimiterOptions{Rate: def.RateLimit.PerSecond, Burst: def.RateLimit.Burst, Now: r.clock.Now})
	}
	if def.MaxActive < 0 || def.MaxActivePerUser < 0 {
		return nil, fmt.Errorf("MaxActive and MaxActivePerUser are bounds: 0 or more")
	}
	m.active = newActiveCalls(def.MaxActive, def.MaxActivePerUser)
	return m, nil
}
