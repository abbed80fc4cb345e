package tracing_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/tracing"
)

// A host traces its registry's calls; a call that came with a traceparent
// goes on in the caller's trace.
func Example() {
	exp := tracetest.NewInMemoryExporter() // in production: an OTLP exporter, WithBatcher
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())

	reg := rpc.New(rpc.Options{})
	reg.Register(rpc.Method{
		ID: "/v1/hello", Title: "Hello", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) (string, error) { return "hello", nil },
	})
	tracing.New(reg, tracing.Options{TracerProvider: tp})

	req := httptest.NewRequest(http.MethodPost, "/v1/hello", strings.NewReader(`[]`))
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	reg.ServeHTTP(httptest.NewRecorder(), req)

	span := exp.GetSpans()[0]
	fmt.Println(span.Name, span.SpanContext.TraceID(), span.Parent.SpanID())
	// Output:
	// /v1/hello 4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7
}
