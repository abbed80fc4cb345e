// Command app serves the library's whole API: the built-in modules and the
// API v1 reference's /v1/test methods, under /api/.
//
//	go run ./examples/app                      # serve on 127.0.0.1:8080, SQLite file app.db
//	go run ./examples/app -db postgres://…     # serve on PostgreSQL
//	go run ./examples/app -db postgres://… -nats nats://127.0.0.1:4222
//	                                           # instances talk over NATS
//	go run ./examples/app -metrics=false       # no Prometheus metrics at /metrics
//	go run ./examples/app -trace stdout        # OpenTelemetry spans of calls and queries, as JSON on stderr
//	go run ./examples/app markdown             # print the Markdown reference
//	go run ./examples/app openapi              # print the OpenAPI 3.1 document
//	go run ./examples/app reencrypt-settings   # rewrite the secret settings under AUTHRPC_SETTINGS_KEY
//
// Behind a reverse proxy, -proxy-header names the header the proxy passes
// the client's address in (X-Real-IP, X-Forwarded-For), -trusted-proxy
// lists the proxies it is believed from (default: loopback, a proxy on this
// host) and -proxy-hops how many of them in a row append to it. Without
// them every client has the proxy's address, and shares its sign-in limits
// and its share of sockets and uploads. The README shows nginx in front.
//
// AUTHRPC_SETTINGS_KEY (base64 of 32 random bytes, e.g. `openssl rand
// -base64 32`) encrypts the SMTP password in the database; during a key
// rotation AUTHRPC_SETTINGS_OLD_KEYS (comma-separated) holds the keys that
// only decrypt.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{}
	defineFlags(fs, &cfg)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: app [flags] [serve|markdown|openapi|reencrypt-settings]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.RootPassword = os.Getenv("ROOT_PASSWORD")
	cfg.SettingsKey = os.Getenv(envSettingsKey)
	cfg.SettingsOldKeys = splitKeys(os.Getenv(envSettingsOldKeys))
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg.Logger = logger
	cfg.Out = stdout
	cfg.TraceOut = stderr

	cmd := fs.Arg(0)
	switch cmd {
	case "", "serve":
		if cfg.SettingsKey == "" {
			logger.Warn("settings: the SMTP password is stored in plain text; set " + envSettingsKey + " to encrypt it")
		}
	case "markdown", "openapi":
		// The reference needs the methods, not the data: the modules mount on
		// a throwaway in-memory database, so -db is never opened, migrated or
		// seeded, and nothing they print reaches the document.
		cfg.DB, cfg.Out, cfg.NATS, cfg.Trace = ":memory:", io.Discard, "", ""
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	case "reencrypt-settings":
		if cfg.SettingsKey == "" {
			return fmt.Errorf("reencrypt-settings: set %s to the key to encrypt with, and %s to the keys to decrypt with", envSettingsKey, envSettingsOldKeys)
		}
		cfg.Out = stderr
	default:
		fs.Usage()
		return fmt.Errorf("unknown command %q", cmd)
	}

	a, err := newApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		// Background work (session cleanup, the call log's writer) stops
		// before the database closes, whichever command ran.
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.Shutdown(sctx)
		_ = a.Close()
	}()

	switch cmd {
	case "markdown", "openapi":
		return a.reg.WriteReference(stdout, cmd)
	case "reencrypt-settings":
		n, err := a.settings.Reencrypt(ctx)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "secret settings re-encrypted: %d\n", n)
		return err
	}
	return serve(ctx, a, cfg.Addr, logger)
}

// defineFlags defines the command line's flags on fs, to be parsed into cfg.
func defineFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.DB, "db", "app.db", "database: a SQLite file, or a postgres:// URL")
	fs.StringVar(&cfg.BaseURL, "base-url", "", "where clients reach the server, such as https://api.example.com: the references' server URL")
	fs.StringVar(&cfg.NATS, "nats", "", "NATS server, such as nats://127.0.0.1:4222: instances share invalidations, settings and events over it instead of PostgreSQL's LISTEN/NOTIFY")
	fs.Var(&cfg.CORSOrigins, "cors-origin", "an origin whose pages may call the API, such as https://app.example.com (repeatable, or comma-separated)")
	fs.StringVar(&cfg.ProxyHeader, "proxy-header", "", "the header in which a reverse proxy in front passes the client address, such as X-Forwarded-For or X-Real-IP; empty: the connection's address")
	fs.Var(&cfg.TrustedProxies, "trusted-proxy", "an address or CIDR of a reverse proxy whose -proxy-header is believed (repeatable, or comma-separated); default: loopback only")
	fs.IntVar(&cfg.ProxyHops, "proxy-hops", 1, "how many trusted proxies in a row append to -proxy-header")
	fs.Var(offFlag{&cfg.NoMetrics}, "metrics", "serve Prometheus metrics at /metrics (-metrics=false: not)")
	fs.StringVar(&cfg.Trace, "trace", "", "where the OpenTelemetry spans of calls and queries go: stdout (printed as JSON to standard error), or empty for nowhere")
}

// offFlag is a boolean flag, true by default, that sets *off when it is
// turned off.
type offFlag struct{ off *bool }

func (f offFlag) String() string {
	if f.off != nil && *f.off {
		return "false"
	}
	return "true"
}

func (f offFlag) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*f.off = !on
	return nil
}

func (offFlag) IsBoolFlag() bool { return true }

// The environment variables that hold the settings keys.
const (
	envSettingsKey     = "AUTHRPC_SETTINGS_KEY"
	envSettingsOldKeys = "AUTHRPC_SETTINGS_OLD_KEYS"
)

// splitKeys splits a comma-separated list of keys.
func splitKeys(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// serve runs the HTTP server until ctx ends, then shuts down gracefully:
// in-flight requests finish, background (void) calls finish, the call log flushes.
func serve(ctx context.Context, a *app, addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := newServer(a.Handler())
	logger.Info("serving", "url", "http://"+ln.Addr().String()+"/api/")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := a.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newServer returns the http.Server the app serves h with. Its limits sit
// outside the registry's own body and call deadlines (rpc.Options
// BodyTimeout and CallTimeout, 30 s each by default), so that those answer
// first, in JSON, and these catch what the registry never sees: slow
// headers, idle keep-alive connections, a client that does not read its
// answer, a middleware that hides the connection's deadlines.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler: h,
		// The request line and headers: a client that sends them slowly
		// holds a connection and a goroutine for nothing.
		ReadHeaderTimeout: 10 * time.Second,
		// Headers and body together; the registry ends a body at 30 s.
		ReadTimeout: 45 * time.Second,
		// From the end of the headers to the end of the answer: the body,
		// the call and writing the answer.
		WriteTimeout: 90 * time.Second,
		// A keep-alive connection waiting for its next request.
		IdleTimeout: 2 * time.Minute,
		// Bearer tokens and the usual headers fit many times over; the
		// default is 1 MiB.
		MaxHeaderBytes: 64 << 10,
	}
}
