package metrics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/metrics"
	"github.com/authrpc/authrpc/rpc"
)

// A host counts its registry's calls and serves them at /metrics, beside
// the API.
func Example() {
	reg := rpc.New(rpc.Options{Prefix: "/api"})
	reg.Register(rpc.Method{
		ID: "/v1/hello", Title: "Hello", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) (string, error) { return "hello", nil },
	})
	m, err := metrics.New(reg, metrics.Options{})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", reg)
	mux.Handle("/metrics", m.Handler())

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/hello", nil))
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for line := range strings.SplitSeq(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, `authrpc_calls_total{method="/v1/hello"`) {
			fmt.Println(line)
		}
	}
	// Output:
	// authrpc_calls_total{method="/v1/hello",outcome="declined"} 0
	// authrpc_calls_total{method="/v1/hello",outcome="error"} 0
	// authrpc_calls_total{method="/v1/hello",outcome="exception"} 0
	// authrpc_calls_total{method="/v1/hello",outcome="ok"} 1
}
