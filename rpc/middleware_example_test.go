package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// span is what a tracer such as OpenTelemetry's keeps of one call: with
// go.opentelemetry.io/otel, start is tracer.Start(ctx, name), SetAttributes
// takes attribute.String, and end is span.SetStatus then span.End.
type span struct {
	name   string
	attrs  []string
	status string
}

func (s *span) end(err error) {
	s.status = "ok"
	var e *rpc.Error
	switch {
	case errors.As(err, &e):
		s.status = fmt.Sprintf("error %d: %s", e.Code, e.Message)
	case err != nil:
		s.status = "error: " + err.Error()
	}
	fmt.Printf("span %s [%s] %s\n", s.name, strings.Join(s.attrs, " "), s.status)
}

// tracing starts a span per call, with the method and the caller as
// attributes, and ends it with the call's status.
func tracing(next rpc.CallFunc) rpc.CallFunc {
	return func(ctx context.Context, c *rpc.Call) (res rpc.Result, err error) {
		s := &span{name: c.Method, attrs: []string{"rpc.method=" + c.Method}}
		if c.Caller.Authenticated() {
			s.attrs = append(s.attrs, "enduser.id="+c.Caller.Username)
		}
		defer func() { s.end(err) }()
		return next(ctx, c) // a real tracer passes its span's context here
	}
}

// tenancy refuses a call whose first parameter names another tenant: the
// caller reads a refusal like any other error, and the call log records it.
func tenancy(next rpc.CallFunc) rpc.CallFunc {
	return func(ctx context.Context, c *rpc.Call) (rpc.Result, error) {
		if p := c.Params(); len(p) > 0 && p[0] == "other-tenant" {
			return rpc.Result{}, rpc.Errorf(rpc.CodeForbidden, "not your tenant")
		}
		return next(ctx, c)
	}
}

// Call middleware: a span per call around everything, and a check of one
// method's parameters inside it.
func ExampleMiddleware() {
	reg := rpc.New(rpc.Options{Middleware: []rpc.Middleware{tracing}, Logger: slog.New(slog.DiscardHandler)})
	reg.Register(rpc.Method{
		ID: "/v1/orders/read", Permissions: []string{auth.Anyone},
		Params:     []rpc.Param{{Name: "tenant"}},
		Middleware: []rpc.Middleware{tenancy},
		Handler:    func(ctx context.Context, tenant string) ([]string, error) { return []string{"order 1"}, nil },
	})

	for _, body := range []string{`["acme"]`, `["other-tenant"]`} {
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, httptest.NewRequest("POST", "/v1/orders/read", strings.NewReader(body)))
		fmt.Println(w.Code)
	}
	// Output:
	// span /v1/orders/read [rpc.method=/v1/orders/read] ok
	// 200
	// span /v1/orders/read [rpc.method=/v1/orders/read] error 403: not your tenant
	// 403
}
