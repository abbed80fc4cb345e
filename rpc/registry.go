package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/invopop/jsonschema"
	"github.com/rs/cors"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc/read"
)

// Registry holds the methods of an API and serves them over HTTP.
// Register methods before serving; a Registry is safe for concurrent calls.
type Registry struct {
	opts      Options
	log       *slog.Logger
	perms     *auth.Permissions
	auth      *auth.Mux
	reflector *jsonschema.Reflector

	mu       sync.RWMutex                       // guards writes of methods, and order and sections
	methods  atomic.Pointer[map[string]*method] // copied on write: lookups take no lock
	order    []*method
	sections map[string]string // prefix -> title

	observers atomic.Pointer[[]Observer]

	proxyKey  string    // Options.TrustedProxyHeader in canonical form
	warnProxy sync.Once // the first proxy header from a peer not trusted

	warnNoDeadline sync.Once    // the first writer that cannot set read deadlines
	noDeadline     atomic.Value // the reflect.Type of the last writer that could not

	uploads *spoolBudget

	cors *cors.Cors // nil without Options.CORS

	voidSem    chan struct{}
	voidMu     sync.Mutex // orders voidWG.Add against Shutdown's Wait
	voidClosed bool
	voidWG     sync.WaitGroup

	hub     *hub // the open WebSockets
	refused refusals

	shutdownMu sync.Mutex
	onShutdown []func(context.Context) error // see OnShutdown
}

// New returns an empty registry.
func New(opts Options) *Registry {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Permissions == nil {
		opts.Permissions = auth.NewPermissions()
	}
	if opts.Auth == nil {
		opts.Auth = auth.NewMux(auth.MuxOptions{})
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.MaxVoidCalls <= 0 {
		opts.MaxVoidCalls = 64
	}
	if opts.UploadDir == "" {
		opts.UploadDir = os.TempDir()
	}
	if opts.MaxUploads <= 0 {
		opts.MaxUploads = DefaultMaxUploads
	}
	if opts.MaxSpooledBytes <= 0 {
		opts.MaxSpooledBytes = DefaultMaxSpooledBytes
	}
	if opts.MaxUploadsPerAddr <= 0 {
		opts.MaxUploadsPerAddr = max(opts.MaxUploads/4, 1)
	}
	if opts.MaxSpooledBytesPerAddr <= 0 {
		opts.MaxSpooledBytesPerAddr = opts.MaxSpooledBytes / 4
	}
	if opts.Title == "" {
		opts.Title = "API v1"
	}
	if opts.Prefix != "" {
		opts.Prefix = "/" + strings.Trim(opts.Prefix, "/")
	}
	if len(opts.TrustedProxies) == 0 {
		opts.TrustedProxies = loopback()
	}
	opts.WebSocket = opts.WebSocket.withDefaults(opts.MaxBodyBytes)
	opts.BaseURL = strings.TrimSuffix(opts.BaseURL, "/")
	if opts.Version == "" {
		opts.Version = "1"
	}
	r := &Registry{
		proxyKey: http.CanonicalHeaderKey(opts.TrustedProxyHeader),
		cors:     newCORS(opts.CORS),
		opts:     opts,
		log:      opts.Logger,
		perms:    opts.Permissions,
		auth:     opts.Auth,
		sections: make(map[string]string),
		voidSem:  make(chan struct{}, opts.MaxVoidCalls),
		uploads:  newSpoolBudget(opts),
		reflector: &jsonschema.Reflector{
			DoNotReference: true,
			ExpandedStruct: true,
			Anonymous:      true,
		},
	}
	r.hub = newHub(r)
	r.auth.OnInvalidate(r.hub.revoke)
	r.auth.OnResync(func() { go r.hub.recheck() })
	return r
}

// Permissions returns the set of declared permissions.
func (r *Registry) Permissions() *auth.Permissions { return r.perms }

// Auth returns the mux that resolves bearer tokens.
func (r *Registry) Auth() *auth.Mux { return r.auth }

// Logger returns the registry's logger.
func (r *Registry) Logger() *slog.Logger { return r.log }

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

// Section groups methods under a path prefix and a title: one section of
// the reference (and one OpenAPI tag). Get one with Registry.Section.
type Section struct {
	r      *Registry
	prefix string
}

// Section returns the section with the given prefix (such as
// "/v1/admin/users"), naming it title in the reference. Calling it again
// with the same prefix gives the same section, under the latest title.
func (r *Registry) Section(prefix, title string) *Section {
	prefix = strings.TrimSuffix(prefix, "/")
	if !strings.HasPrefix(prefix, "/") {
		panic(fmt.Sprintf("rpc: section %q: a prefix starts with /", prefix))
	}
	r.mu.Lock()
	r.sections[prefix] = title
	r.mu.Unlock()
	return &Section{r: r, prefix: prefix}
}

// Register adds a method to the section; a relative ID is joined to the
// section's prefix.
func (s *Section) Register(def Method) {
	if !strings.HasPrefix(def.ID, "/") {
		def.ID = s.prefix + "/" + def.ID
	}
	s.r.register(def, s.prefix)
}

// Register adds a method. It panics when the definition is wrong (a
// programming error, like a bad pattern given to http.ServeMux): a duplicate
// or malformed id, no permissions, a permission tag that is neither built in
// nor declared (declare the host's permissions before registering the
// methods that name them, and before mounting modules), or a handler that
// does not match the params.
func (r *Registry) Register(def Method) {
	r.register(def, "")
}

var methodID = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)

var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var (
	contextType     = reflect.TypeFor[context.Context]()
	errorType       = reflect.TypeFor[error]()
	readOptionsType = reflect.TypeFor[read.Options]()
)

func (r *Registry) register(def Method, section string) {
	m, err := r.compile(def, section)
	if err != nil {
		panic(fmt.Sprintf("rpc: register %s: %v", def.ID, err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.methods.Load()
	next := make(map[string]*method, len(r.order)+1)
	if old != nil {
		if _, dup := (*old)[m.ID]; dup {
			panic(fmt.Sprintf("rpc: register %s: the method is already registered", m.ID))
		}
		for id, om := range *old {
			next[id] = om
		}
	}
	next[m.ID] = m
	r.methods.Store(&next)
	r.order = append(r.order, m)
}

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
		m.limiter = auth.NewLimiter(auth.LimiterOptions{Rate: def.RateLimit.PerSecond, Burst: def.RateLimit.Burst})
	}
	if def.MaxActive < 0 || def.MaxActivePerUser < 0 {
		return nil, fmt.Errorf("MaxActive and MaxActivePerUser are bounds: 0 or more")
	}
	m.active = newActiveCalls(def.MaxActive, def.MaxActivePerUser)
	return m, nil
}

// MethodInfo describes a registered method, as the reference shows it.
type MethodInfo struct {
	ID          string
	Section     string // the prefix of its section of the reference
	Title       string
	Description string
	Permissions []string
	Params      []ParamInfo
	Upload      bool
	CallLog     bool
	RateLimited bool               // the method has a RateLimit
	Result      *jsonschema.Schema // the answer's data, reflected from the handler's R; nil for none
}

// ParamInfo describes a method's parameter.
type ParamInfo struct {
	Name        string
	Description string
	Optional    bool
	Schema      *jsonschema.Schema // nil for read options; see Read
	Read        *read.Spec
	File        bool // the uploaded file, passed first; it has no schema
}

// Methods lists the registered methods sorted by section, then in the order
// they were registered.
func (r *Registry) Methods() []MethodInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	list := make([]MethodInfo, 0, len(r.order))
	for _, m := range r.order {
		info := MethodInfo{
			ID:          m.ID,
			Section:     r.sectionOf(m),
			Title:       m.Title,
			Description: m.Description,
			Permissions: append([]string(nil), m.Permissions...),
			Upload:      m.MaxUploadBytes > 0,
			CallLog:     m.logged,
			RateLimited: m.limiter != nil,
			Result:      m.result,
		}
		if m.file != nil {
			info.Params = append(info.Params, ParamInfo{Name: m.file.Name, Description: m.file.Description, Optional: m.file.Optional, File: true})
		}
		for _, p := range m.params {
			info.Params = append(info.Params, ParamInfo{
				Name: p.Name, Description: p.Description, Optional: p.Optional,
				Schema: p.schema, Read: p.Read,
			})
		}
		list = append(list, info)
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Section < list[j].Section })
	return list
}

// sectionOf returns the prefix a method is listed under: its section's, or
// its id's directory for a method registered outside a section.
func (r *Registry) sectionOf(m *method) string {
	if m.section != "" {
		return m.section
	}
	if i := strings.LastIndexByte(m.ID, '/'); i > 0 {
		return m.ID[:i]
	}
	return "/"
}

// SectionTitle returns the title given to a section's prefix, or the prefix
// itself.
func (r *Registry) SectionTitle(prefix string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if t, ok := r.sections[prefix]; ok && t != "" {
		return t
	}
	return prefix
}

func (r *Registry) lookup(id string) *method {
	if ms := r.methods.Load(); ms != nil {
		return (*ms)[id]
	}
	return nil
}
