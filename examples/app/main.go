// Command app serves the library's whole API: the built-in modules and the
// seed's /v1/test module, under /api/.
//
//	go run ./examples/app                      # serve on 127.0.0.1:8080, SQLite file app.db
//	go run ./examples/app -db postgres://…     # serve on PostgreSQL
//	go run ./examples/app markdown             # print the Markdown reference
//	go run ./examples/app openapi              # print the OpenAPI 3.1 document
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
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.DB, "db", "app.db", "database: a SQLite file, or a postgres:// URL")
	fs.StringVar(&cfg.BaseURL, "base-url", "", "where clients reach the server, such as https://api.example.com: the references' server URL")
	fs.Var(&cfg.CORSOrigins, "cors-origin", "an origin whose pages may call the API, such as https://app.example.com (repeatable, or comma-separated)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: app [flags] [serve|markdown|openapi]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.RootPassword = os.Getenv("ROOT_PASSWORD")
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg.Logger = logger
	cfg.Out = stdout

	cmd := fs.Arg(0)
	switch cmd {
	case "", "serve":
	case "markdown", "openapi":
		// The reference needs the methods, not the data: the modules mount on
		// a throwaway in-memory database, so -db is never opened, migrated or
		// seeded, and nothing they print reaches the document.
		cfg.DB, cfg.Out = ":memory:", io.Discard
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
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
	case "markdown":
		return a.reg.WriteMarkdown(stdout)
	case "openapi":
		doc, err := a.reg.OpenAPI()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", doc)
		return err
	}
	return serve(ctx, a, cfg.Addr, logger)
}

// serve runs the HTTP server until ctx ends, then shuts down gracefully:
// in-flight requests finish, background (void) calls finish, the call log flushes.
func serve(ctx context.Context, a *app, addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
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
