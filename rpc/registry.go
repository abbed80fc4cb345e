package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
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

// Options configure a Registry. The zero value is ready to use.
type Options struct {
	// Logger receives handler errors and panics. Default: slog.Default().
	Logger *slog.Logger

	// Permissions is the set of permissions the host and its modules declare.
	// Default: an empty set.
	Permissions *auth.Permissions

	// Auth resolves bearer tokens to callers; modules register their
	// authenticators on it. Default: an empty mux, so every caller is a guest.
	Auth *auth.Mux

	// MaxBodyBytes bounds a JSON request body. Default: 1 MiB. A declared
	// Content-Length is checked against it, never reserved: memory follows
	// the bytes that arrive.
	MaxBodyBytes int64

	// BodyTimeout bounds how long a request body (a JSON body or an upload)
	// may take to arrive once the registry starts reading it; past it the
	// call answers 408 and the connection is closed. It is set as the
	// connection's read deadline through http.ResponseController, so it
	// holds whatever timeouts the http.Server has. Where the ResponseWriter
	// cannot set deadlines (a middleware's writer without Unwrap; the
	// registry logs a warning once), it is checked at every read instead:
	// that ends a body that trickles in, and the server's ReadTimeout must
	// end one that stalls. Method.BodyTimeout overrides it.
	// Default: DefaultBodyTimeout.
	BodyTimeout time.Duration

	// CallTimeout is the deadline of every call, from before its caller is
	// authenticated (so it reaches the auth cache's reads) to its answer. A
	// handler must pass its context to every query and dependency; the
	// storage drivers then end a query that runs past it, and the call
	// answers 503 with a generic message. A void call gets the same
	// deadline, from when it is answered; an upload's handler gets it
	// from when the upload is in. Method.Timeout overrides it.
	// Default: DefaultCallTimeout.
	CallTimeout time.Duration

	// MaxVoidCalls bounds the void calls running in the background; past it a
	// void call is refused with 429. Default: 64.
	MaxVoidCalls int

	// TrustedProxyHeader names a header, set by a reverse proxy you trust, that
	// carries the client's address ("X-Forwarded-For" or "X-Real-IP"). Empty
	// means the address of the connection. Rate limits and the per-address
	// bounds key on this address, so the header is believed only from a
	// connection whose address is in TrustedProxies; from any other peer it
	// is ignored (and the first such request is logged as a warning). The
	// header's lines are read as one comma-separated list from the right
	// (what the proxies appended), never an entry the client wrote before
	// them; see TrustedProxyHops. An entry that is not an IP address (with
	// or without a port) gives the connection's address.
	TrustedProxyHeader string

	// TrustedProxies lists the addresses (as prefixes: a single address is
	// a /32 or a /128) of the reverse proxies whose TrustedProxyHeader is
	// believed. Default: loopback only (127.0.0.0/8 and ::1), for a proxy on
	// the same host, which is as trusted as the host; a proxy anywhere else
	// must be listed, or every client behind it has the proxy's address.
	TrustedProxies []netip.Prefix

	// TrustedProxyHops is how many trusted proxies in a row may append to
	// TrustedProxyHeader, one entry each. Reading from the right, at most
	// this many entries, the client's address is the first entry that is
	// not itself in TrustedProxies; when all are, the last read. So behind
	// two proxies, list both and set 2: a client that reaches the second
	// directly is then keyed on its own address. Default 1: the right-most
	// entry, whatever it is.
	TrustedProxyHops int

	// UploadDir is where uploads are spooled while their handler runs.
	// Default: os.TempDir().
	UploadDir string

	// MaxUploads bounds the uploads being received or handled at once,
	// across all methods; past it an upload is refused at once with 503
	// and Retry-After. Default: DefaultMaxUploads.
	MaxUploads int

	// MaxSpooledBytes bounds the bytes that uploads being received or
	// handled may hold in UploadDir together. Each upload counts, from its
	// start, as its declared Content-Length or its method's MaxUploadBytes,
	// whichever is less, so a refusal comes before anything is written: 503
	// and Retry-After. Default: DefaultMaxSpooledBytes.
	MaxSpooledBytes int64

	// MaxUploadsPerAddr and MaxSpooledBytesPerAddr bound the same per
	// client address (an IPv6 /64; see TrustedProxyHeader), so that one
	// address stalling uploads cannot shut them for the others: past
	// either, that address's upload is refused at once with 503 and
	// Retry-After while other addresses' are taken. An address's first
	// upload is held to the registry-wide bounds only, so a method may take
	// uploads up to MaxSpooledBytes. Defaults: a quarter of MaxUploads and
	// of MaxSpooledBytes, at least 1 upload (4 and 64 MiB with their
	// defaults): a client uploading several files at once fits, and it
	// takes four addresses to fill the registry.
	MaxUploadsPerAddr      int
	MaxSpooledBytesPerAddr int64

	// Title heads the Markdown reference. Default: "API v1".
	Title string

	// Prefix is the path the registry is mounted under, such as "/api":
	// the method id is the request path below it, and a path outside it
	// answers -32809. It does what http.StripPrefix does, without copying
	// the request. Empty: the whole path is the method id.
	Prefix string

	// Healthcheck answers the reserved method /healthcheck (over HTTP and
	// WebSocket, for load balancers): nil is healthy, an error answers 503
	// and is logged. It gets 5 seconds. Default: always healthy; the host
	// plugs in its own, such as pinging the database.
	Healthcheck func(ctx context.Context) error

	// WebSocket configures the WebSocket transport at the mount root.
	WebSocket WebSocketOptions

	// CORS, when set, lets browser pages on the origins it allows call the
	// registry (see CORSOptions). Default: no CORS headers, and preflights
	// answer 405.
	CORS *CORSOptions

	// BaseURL is where clients reach the server, such as
	// "https://api.example.com": the references give it, with Prefix, as
	// the OpenAPI server and in the Markdown's curl calls. Default: the
	// OpenAPI server is Prefix alone (relative to wherever the document was
	// fetched), and the Markdown shows the placeholder https://api.domain.com.
	BaseURL string

	// Version is the OpenAPI document's info.version. Default: "1".
	Version string

	// Middleware wraps every method's calls, the first outermost, around
	// each Method.Middleware (see Middleware). It is read when a method is
	// registered. Default: none.
	Middleware []Middleware
}

// Defaults for Options.
const (
	DefaultBodyTimeout     = 30 * time.Second
	DefaultCallTimeout     = 30 * time.Second
	DefaultMaxUploads      = 16
	DefaultMaxSpooledBytes = 256 << 20
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
