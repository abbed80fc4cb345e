package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
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
	clock     Clock
	perms     *auth.Permissions
	auth      *auth.Mux
	reflector *jsonschema.Reflector

	mu       sync.RWMutex                       // guards writes of methods, and order and sections
	methods  atomic.Pointer[map[string]*method] // copied on write: lookups take no lock
	order    []*method
	sections map[string]string // prefix -> title

	observers atomic.Pointer[[]Observer]
	activity  atomic.Pointer[[]func(*auth.Principal, time.Time)] // see OnActivity
	hooks     atomic.Pointer[[]CallHook]

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
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.AuthorizedMaxAge <= 0 {
		opts.AuthorizedMaxAge = DefaultAuthorizedMaxAge
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
		clock:    opts.Clock,
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
	RateLimited bool // the method has a RateLimit
	// RequiresAuthorization: the method refuses a caller without a recent
	// authorization (Method.RequireAuthorization).
	RequiresAuthorization bool
	Result                *jsonschema.Schema // the answer's data, reflected from the handler's R; nil for none
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

			RequiresAuthorization: m.fresh.Load(),
			Result:                m.result,
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
