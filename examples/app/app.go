package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/authrpc/authrpc/apiref"
	"github.com/authrpc/authrpc/audit"
	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/console"
	"github.com/authrpc/authrpc/health"
	"github.com/authrpc/authrpc/metrics"
	"github.com/authrpc/authrpc/oauth"
	"github.com/authrpc/authrpc/pubsub"
	"github.com/authrpc/authrpc/pubsub/natspubsub"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/tokens"
	"github.com/authrpc/authrpc/tracing"
	"github.com/authrpc/authrpc/users"
)

type config struct {
	Addr         string
	DB           string
	RootPassword string
	// SettingsKey and SettingsOldKeys (base64 of 32 bytes each) encrypt
	// the secret settings at rest; empty: stored in plain text.
	SettingsKey     string
	SettingsOldKeys []string
	CORSOrigins     origins // pages on these origins may call the API
	BaseURL         string  // where clients reach the server, for the references
	Logger          *slog.Logger
	Out             io.Writer     // where a generated root password is printed
	CallTimeout     time.Duration // every call's deadline; 0: rpc.DefaultCallTimeout

	// ProxyHeader, TrustedProxies and ProxyHops are rpc.Options'
	// TrustedProxyHeader, TrustedProxies and TrustedProxyHops.
	ProxyHeader    string
	TrustedProxies prefixes
	ProxyHops      int
	// NATS, when set (nats://host:port, or a comma-separated list), carries
	// invalidations, settings and events between instances instead of
	// PostgreSQL's LISTEN/NOTIFY.
	NATS string
	// NoMetrics turns /metrics off (-metrics=false).
	NoMetrics bool
	// Trace names where the spans of calls and queries go: "" nowhere,
	// "stdout" printed as JSON to TraceOut (-trace stdout). TracerProvider,
	// when set, is used instead (the tests' in-memory exporter).
	Trace          string
	TraceOut       io.Writer
	TracerProvider trace.TracerProvider
}

// adminPermission is the permission that administers users, settings and
// the call log, reads the audit trail, and shows those pages in the console. The modules' default
// is the same name; it is given to each here to show where it goes.
const adminPermission = "admin"

// app is the example host: one registry with every module mounted.
type app struct {
	db *bun.DB
	// channel names a channel between instances; closeChannels stops them.
	channel       func(name string) pubsub.Channel
	closeChannels func(context.Context) error
	listening     health.Sync // the channels' state, for readiness
	ready         *health.Readiness
	reg           *rpc.Registry
	calls         *calllog.Module
	trail         *audit.Module
	settings      *settings.Module
	oauth         *oauth.Module
	users         *users.Module
	metrics       *metrics.Metrics // nil with NoMetrics
}

func newApp(ctx context.Context, cfg config) (_ *app, err error) {
	db, err := storage.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	tp, err := tracerProvider(cfg)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	var traceOpts tracing.Options
	if tp != nil {
		traceOpts.TracerProvider = tp
		db = db.WithQueryHook(tracing.QueryHook(traceOpts)) // the same pool, traced, for every module
	}
	a := &app{db: db}
	defer func() {
		if err != nil {
			if a.reg == nil && a.closeChannels != nil {
				_ = a.closeChannels(ctx)
			}
			_ = a.Shutdown(ctx)
			_ = a.Close()
		}
	}()
	if err = a.openChannels(ctx, cfg); err != nil {
		return nil, err
	}
	perms := auth.NewPermissions(auth.Permission{
		Name:        adminPermission,
		Title:       "Administrator",
		Description: "Manages users, settings and the API call log, and reads the audit trail.",
	})
	a.reg = rpc.New(rpc.Options{
		Logger: cfg.Logger, Permissions: perms, Prefix: "/api", CallTimeout: cfg.CallTimeout,
		CORS: cfg.CORSOrigins.cors(), BaseURL: cfg.BaseURL,
		TrustedProxyHeader: cfg.ProxyHeader, TrustedProxies: cfg.TrustedProxies, TrustedProxyHops: cfg.ProxyHops,
		Healthcheck: db.PingContext, // /api/healthcheck for load balancers
	})
	a.reg.OnShutdown(a.closeChannels) // first in, last out: after the modules that use it
	if tp != nil {
		tracing.New(a.reg, traceOpts)
		if sdk, ok := tp.(*sdktrace.TracerProvider); ok && cfg.TracerProvider == nil {
			a.reg.OnShutdown(sdk.Shutdown) // the spans batched, exported
		}
	}
	a.reg.Auth().Share(a.channel("auth"))
	a.reg.ShareEvents(a.channel("events")) // events reach the sockets of every instance

	if a.calls, err = calllog.Mount(ctx, a.reg, db, calllog.Options{Permission: adminPermission}); err != nil {
		return nil, err
	}
	// The audit trail first: the modules after it record their changes in it.
	if a.trail, err = audit.Mount(ctx, a.reg, db, audit.Options{Permission: adminPermission}); err != nil {
		return nil, err
	}
	keys, err := settingsKeys(cfg)
	if err != nil {
		return nil, err
	}
	if a.settings, err = settings.Mount(ctx, a.reg, db, settings.Options{
		Permission: adminPermission, Keys: keys, Channel: a.channel("settings"), Audit: a.trail,
	}); err != nil {
		return nil, err
	}
	// OAuth providers are settings (oauth_providers, oauth_redirect_urls):
	// none until an administrator adds one.
	if a.oauth, err = oauth.Mount(ctx, a.reg, db, oauth.Options{Source: a.settings.OAuth}); err != nil {
		return nil, err
	}
	var ring users.Keyring // TOTP secrets are sealed with the settings keys; none: no TOTP
	if keys != nil {
		ring = keys
	}
	a.users, err = users.Mount(ctx, a.reg, db, users.Options{
		Keyring:         ring,
		OAuth:           a.oauth,
		AdminPermission: adminPermission,
		RootPassword:    cfg.RootPassword,
		Out:             cfg.Out,
		SignupEnabled:   a.settings.SignupEnabled,
		Mailer:          a.settings.Mailer(),
		AppURL:          a.settings.AppURL,
		SecurityMail:    a.settings.SecurityMail, // new-device, password and email notices, each off by a setting
		SessionListPath: "/admin/#/security",     // the console's Security page, linked from the notices
		Audit:           a.trail,                 // tokens record in it too
		QueryHooks:      tp != nil,               // traced: every query makes a span
	})
	if err != nil {
		return nil, err
	}
	if _, err = tokens.Mount(ctx, a.reg, db, a.users, tokens.Options{}); err != nil {
		return nil, err
	}
	registerTestModule(a.reg)
	if a.ready, err = a.readiness(ctx, cfg.Logger); err != nil {
		return nil, err
	}
	if !cfg.NoMetrics {
		// After the modules: their methods' series start at zero.
		a.metrics, err = metrics.New(a.reg, metrics.Options{
			CallLog: func() metrics.CallLogStats { return metrics.CallLogStats(a.calls.Stats()) },
			Hasher:  a.users.Hasher(),
			Sync:    a.listening,
		})
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

// readiness composes the checks of /readyz: the database answers, it still
// has every migration the modules applied at start, the channel between
// instances listens, and the call log's writer keeps up.
func (a *app) readiness(ctx context.Context, logger *slog.Logger) (*health.Readiness, error) {
	applied, err := storage.ReadApplied(ctx, a.db)
	if err != nil {
		return nil, err
	}
	return health.NewReadiness(health.Options{Logger: logger},
		health.Check{Name: "database", Func: health.Ping(a.db)},
		health.Check{Name: "migrations", Func: func(ctx context.Context) error { return applied.Check(ctx, a.db) }},
		health.Check{Name: "channel", Func: health.Listening(a.listening)},
		health.Check{Name: "call_log", Func: a.calls.Ready},
	), nil
}

// openChannels opens the channels between instances, which keep their
// caches, settings and events in step: over NATS when cfg.NATS is set,
// otherwise through the database (PostgreSQL's LISTEN/NOTIFY; on SQLite the
// messages stay in process).
func (a *app) openChannels(ctx context.Context, cfg config) error {
	if cfg.NATS != "" {
		ns, err := natspubsub.Connect(ctx, cfg.NATS, natspubsub.Options{Logger: cfg.Logger})
		if err != nil {
			return err
		}
		a.channel = func(name string) pubsub.Channel { return ns.Channel(name) }
		a.closeChannels, a.listening = ns.Close, ns
		return nil
	}
	sync, err := storage.NewSync(ctx, a.db, storage.SyncOptions{Logger: cfg.Logger})
	if err != nil {
		return err
	}
	a.channel = func(name string) pubsub.Channel { return sync.Channel(name) }
	a.closeChannels, a.listening = sync.Close, sync
	return nil
}

// tracerProvider returns what traces the calls and queries as cfg asks,
// or nil for no tracing.
func tracerProvider(cfg config) (trace.TracerProvider, error) {
	switch {
	case cfg.TracerProvider != nil:
		return cfg.TracerProvider, nil
	case cfg.Trace == "":
		return nil, nil
	case cfg.Trace == "stdout":
		out := cfg.TraceOut
		if out == nil {
			out = io.Discard
		}
		exp, err := stdouttrace.New(stdouttrace.WithWriter(out))
		if err != nil {
			return nil, fmt.Errorf("trace: %w", err)
		}
		return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "authrpc-example")))), nil
	}
	return nil, fmt.Errorf("-trace %q: the example app traces to stdout or nowhere (a host plugs in its exporter, such as OTLP)", cfg.Trace)
}

// settingsKeys returns the keyring of cfg's settings keys, or nil when no
// key is given.
func settingsKeys(cfg config) (*settings.Keyring, error) {
	if cfg.SettingsKey == "" {
		if len(cfg.SettingsOldKeys) > 0 {
			return nil, fmt.Errorf("%s is set but %s is not", envSettingsOldKeys, envSettingsKey)
		}
		return nil, nil
	}
	keys, err := settings.ParseKeyring(cfg.SettingsKey, cfg.SettingsOldKeys...)
	if err != nil {
		return nil, fmt.Errorf("%s or %s: %w", envSettingsKey, envSettingsOldKeys, err)
	}
	return keys, nil
}

// Handler serves the admin console under /admin/, the interactive API
// reference under /docs/ and its OpenAPI document at /api/openapi.json,
// liveness at /healthz, readiness at /readyz, the Prometheus metrics at
// /metrics (unless NoMetrics), and the API everywhere else:
// a path outside those answers -32809 in JSON, and API paths are matched
// exactly (an http.ServeMux would redirect /api/v1//read to a cleaned path).
func (a *app) Handler() http.Handler {
	admin := console.New(console.Options{API: "/api/", AdminPermission: adminPermission})
	docs := apiref.New(apiref.Options{OpenAPI: "/api/openapi.json", Title: "authrpc example API"})
	openapi := a.reg.OpenAPIHandler()
	live := health.Liveness()
	var metricsHandler http.Handler
	if a.metrics != nil {
		metricsHandler = a.metrics.Handler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/healthz":
			live.ServeHTTP(w, r)
		case r.URL.Path == "/metrics" && metricsHandler != nil:
			metricsHandler.ServeHTTP(w, r)
		case r.URL.Path == "/readyz":
			a.ready.ServeHTTP(w, r)
		case r.URL.Path == "/api/openapi.json":
			openapi.ServeHTTP(w, r)
		case r.URL.Path == "/docs":
			http.Redirect(w, r, "/docs/", http.StatusMovedPermanently)
		case strings.HasPrefix(r.URL.Path, "/docs/"):
			docs.ServeHTTP(w, r)
		case r.URL.Path == "/admin":
			http.Redirect(w, r, "/admin/", http.StatusMovedPermanently)
		case strings.HasPrefix(r.URL.Path, "/admin/"):
			admin.ServeHTTP(w, r)
		default:
			a.reg.ServeHTTP(w, r)
		}
	})
}

// Shutdown lets background work finish and stops every module, in the
// reverse order of mounting: void calls and sockets, then mails being sent,
// the call log's queue, and last the listening to other instances. Call it
// after the HTTP server stopped taking requests; calling it again does
// nothing more.
func (a *app) Shutdown(ctx context.Context) error {
	if a.reg == nil {
		return nil
	}
	return a.reg.Shutdown(ctx)
}

// Close closes the database, after Shutdown.
func (a *app) Close() error { return a.db.Close() }
