package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// bareHandler is what a hand-written endpoint does for /v1/test/test: decode
// a JSON array of one string, answer it in the same envelope the library
// sends. It checks no token and logs nothing.
func bareHandler() http.Handler {
	type result struct {
		Status     int            `json:"status"`
		StatusText string         `json:"status_text"`
		Exception  bool           `json:"exception"`
		Data       string         `json:"data"`
		Meta       map[string]any `json:"meta"`
	}
	type envelope struct {
		JSONRPC string `json:"jsonrpc"`
		Result  result `json:"result"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var params []string
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&params); err != nil || len(params) != 1 {
			http.Error(w, `{"jsonrpc":"2.0","error":{"code":-32808,"message":"bad params"}}`, http.StatusBadRequest)
			return
		}
		b, _ := json.Marshal(envelope{"2.0", result{200, "OK", false, params[0], map[string]any{}}})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
}

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
	srv := &http.Server{Handler: http.StripPrefix("/api", bareHandler()), ReadHeaderTimeout: 10 * time.Second}
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
