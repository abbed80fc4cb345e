package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/authrpc/authrpc/internal/benchkit"
)

// serveBare serves under /api the handler that the module's benchmarks
// measure the registry against (benchkit.BareHandler), until ctx ends.
func serveBare(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// The body bound is the registry's default (rpc.Options.MaxBodyBytes).
	h := http.MaxBytesHandler(http.StripPrefix("/api", benchkit.BareHandler()), 1<<20)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "bare handler at http://%s/api/v1/test/test\n", ln.Addr())
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
