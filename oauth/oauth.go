package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/authrpc/authrpc/internal/quote"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// Defaults for Options.
const (
	DefaultAttemptTTL  = 10 * time.Minute
	DefaultHTTPTimeout = 10 * time.Second
)

// DefaultURLLimit bounds oauth-url per caller: each call stores an attempt
// for AttemptTTL, so a guest may not fill the table.
var DefaultURLLimit = rpc.RateLimit{Burst: 20, PerSecond: 1.0 / 6}

// Options configure Mount. Zero Options are valid: no providers until
// Source names some.
type Options struct {
	// Config holds the providers, redirect URLs and linking rule given in
	// Go. Source's are added to them: a provider name in both keeps this
	// one, and redirect URLs of both are allowed.
	Config Config

	// Source, when set, answers the configuration kept elsewhere, read at
	// every use: the settings module's OAuth method (oauth_providers,
	// oauth_redirect_urls, oauth_link_verified_email) fits. Nil: Config
	// alone.
	Source func(ctx context.Context) (Config, error)

	// AttemptTTL is how long an authorization URL can be completed after
	// it was made. Default DefaultAttemptTTL, 10 minutes.
	AttemptTTL time.Duration

	// Now is the clock attempts expire by and ID tokens are checked
	// against. Default time.Now.
	Now func() time.Time

	// HTTPClient calls the providers (discovery, keys, tokens, GitHub's
	// API). Default: a client with HTTPTimeout.
	HTTPClient *http.Client
	// HTTPTimeout bounds each call of the default HTTPClient. Default
	// DefaultHTTPTimeout, 10 s.
	HTTPTimeout time.Duration

	// URLLimit limits oauth-url per caller (the user, or the client
	// address for guests); past it 429. Default DefaultURLLimit: 20 at
	// once, then one per 6 s. A negative Burst turns it off.
	URLLimit rpc.RateLimit

	// TablePrefix goes before the name of the attempts table and the
	// record of its migrations, as users.Options.TablePrefix does: give it
	// the same. Default "": authrpc_oauth_attempts.
	TablePrefix string
}

// Module is the mounted flow: it makes authorization URLs and exchanges
// the codes providers send back for identities.
type Module struct {
	db     *bun.DB
	log    *slog.Logger
	opts   Options
	client *http.Client
	table  string // the attempts table, AS a

	mu    sync.Mutex
	flows map[string]cachedFlow // by provider name
}

type cachedFlow struct {
	p Provider // the configuration it was made from
	f flow
}

// Mount creates the attempts table if needed and registers
// /v1/session/oauth-url and /v1/session/get-oauth-providers; reg.Shutdown
// needs nothing of it.
func Mount(ctx context.Context, reg *rpc.Registry, db *bun.DB, opts Options) (*Module, error) {
	if msg := opts.Config.Check(); msg != "" {
		return nil, fmt.Errorf("oauth: Options.Config: %s", msg)
	}
	if opts.AttemptTTL <= 0 {
		opts.AttemptTTL = DefaultAttemptTTL
	}
	if opts.HTTPTimeout <= 0 {
		opts.HTTPTimeout = DefaultHTTPTimeout
	}
	if err := storage.CheckTablePrefix(opts.TablePrefix); err != nil {
		return nil, fmt.Errorf("oauth: Options.TablePrefix: %w", err)
	}
	if err := storage.Migrate(ctx, db, "oauth", migrations(opts.TablePrefix),
		storage.WithLogger(reg.Logger()), storage.WithTablePrefix(opts.TablePrefix)); err != nil {
		return nil, fmt.Errorf("oauth: %w", err)
	}
	m := &Module{
		db: db, log: reg.Logger(), opts: opts, client: opts.HTTPClient,
		table: opts.TablePrefix + "authrpc_oauth_attempts AS a", flows: map[string]cachedFlow{},
	}
	if m.client == nil {
		m.client = &http.Client{Timeout: opts.HTTPTimeout}
	}
	m.register(reg)
	return m, nil
}

// Config answers the configuration in effect: Options.Config with
// Source's added.
func (m *Module) Config(ctx context.Context) (Config, error) {
	c := m.opts.Config
	if m.opts.Source == nil {
		return c.merge(Config{}), nil
	}
	over, err := m.opts.Source(ctx)
	if err != nil {
		return Config{}, fmt.Errorf("oauth: read configuration: %w", err)
	}
	return c.merge(over), nil
}

// ProviderInfo names a configured provider, as a sign-in page lists them.
type ProviderInfo struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Providers answers the configured providers by name.
func (m *Module) Providers(ctx context.Context) ([]ProviderInfo, error) {
	c, err := m.Config(ctx)
	if err != nil {
		return nil, err
	}
	out := []ProviderInfo{}
	for _, n := range slices.Sorted(maps.Keys(c.Providers)) {
		out = append(out, ProviderInfo{Name: n, Type: c.Providers[n].Type})
	}
	return out, nil
}

// flow returns the named provider's flow, made (for OpenID Connect,
// discovered) at its first use and again after its configuration changed.
func (m *Module) flow(ctx context.Context, c Config, name string) (flow, error) {
	p, ok := c.Providers[name]
	if !ok {
		return nil, invalid("unknown OAuth provider %s", quote.Short(name))
	}
	m.mu.Lock()
	cf, ok := m.flows[name]
	m.mu.Unlock()
	if ok && sameProvider(cf.p, p) {
		return cf.f, nil
	}
	var f flow
	switch p.Type {
	case TypeGitHub:
		f = &githubFlow{m: m, name: name, p: p}
	default:
		of, err := m.discover(ctx, name, p)
		if err != nil {
			return nil, err
		}
		f = of
	}
	m.mu.Lock()
	m.flows[name] = cachedFlow{p: p, f: f}
	m.mu.Unlock()
	return f, nil
}

func sameProvider(a, b Provider) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb) && a.ClientSecret == b.ClientSecret &&
		a.AuthURL == b.AuthURL && a.TokenURL == b.TokenURL && a.APIURL == b.APIURL
}
