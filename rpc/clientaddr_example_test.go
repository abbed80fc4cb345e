package rpc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// Behind a reverse proxy at 10.0.0.1 that passes the client's address in
// X-Real-IP. Rate limits, sign-in limits and the per-address bounds key on
// the address a handler sees: the header's, from the proxy, and the
// connection's from anyone else, whatever header they send.
func ExampleOptions_trustedProxies() {
	reg := rpc.New(rpc.Options{
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		TrustedProxyHeader: "X-Real-IP",
		TrustedProxies:     []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")},
	})
	reg.Register(rpc.Method{
		ID: "/v1/addr", Title: "The caller's address", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) (string, error) { return rpc.CallFromContext(ctx).ClientAddr, nil },
	})
	for _, peer := range []string{"10.0.0.1:4711", "198.51.100.7:4711"} {
		req := httptest.NewRequest(http.MethodPost, "/v1/addr", nil)
		req.RemoteAddr = peer
		req.Header.Set("X-Real-IP", "203.0.113.9")
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, req)
		fmt.Println(w.Body.String())
	}
	// Output:
	// {"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"data":"203.0.113.9","meta":{}}}
	// {"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"data":"198.51.100.7","meta":{}}}
}
