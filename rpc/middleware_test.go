package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// seen is what a middleware saw of one call.
type seen struct {
	Method string
	User   string
	Params []any
	Void   bool
}

// Session tokens of middlewareRegistry's callers.
var plainToken, adminToken = newSessionToken(), newSessionToken()

func newSessionToken() string {
	tok, _, err := auth.NewToken(auth.KindSession)
	if err != nil {
		panic(err)
	}
	return tok
}

type trail struct {
	mu    sync.Mutex
	calls []seen
	order []string
}

func (tr *trail) add(name string) {
	tr.mu.Lock()
	tr.order = append(tr.order, name)
	tr.mu.Unlock()
}

// middlewareRegistry has a "plain" and an "admin" caller, /v1/echo(n, s?)
// for users and /v1/admin/op for admins; the registry-wide middleware
// refuses any call whose first parameter is 13.
func middlewareRegistry(t *testing.T, tr *trail, logger *slog.Logger) (*rpc.Registry, *observer) {
	t.Helper()
	record := func(next rpc.CallFunc) rpc.CallFunc {
		return func(ctx context.Context, c *rpc.Call) (rpc.Result, error) {
			tr.add("registry")
			s := seen{Method: c.Method, Params: c.Params(), Void: c.Void}
			if c.Caller != nil {
				s.User = c.Caller.Username
			}
			if p := auth.FromContext(ctx); p != c.Caller {
				t.Errorf("the context's principal %v is not Call.Caller %v", p, c.Caller)
			}
			tr.mu.Lock()
			tr.calls = append(tr.calls, s)
			tr.mu.Unlock()
			if len(s.Params) > 0 && s.Params[0] == 13 {
				return rpc.Result{}, rpc.Errorf(rpc.CodeForbidden, "13 is refused here")
			}
			res, err := next(ctx, c)
			tr.add("registry after")
			return res, err
		}
	}
	reg := rpc.New(rpc.Options{Logger: logger, Middleware: []rpc.Middleware{record},
		Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Admin"})})
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(_ context.Context, tok string) (*auth.Principal, error) {
		switch tok {
		case plainToken:
			return &auth.Principal{UserID: 3, Username: "plain", Kind: auth.KindSession}, nil
		case adminToken:
			return &auth.Principal{UserID: 2, Username: "ada", Kind: auth.KindSession, Permissions: map[string]bool{"admin": true}}, nil
		}
		return nil, auth.ErrUnknownToken
	}))
	obs := &observer{}
	reg.Observe(obs)
	reg.Register(rpc.Method{
		ID: "/v1/echo", Permissions: []string{auth.User},
		Params: []rpc.Param{{Name: "n"}, {Name: "s?"}},
		Middleware: []rpc.Middleware{func(next rpc.CallFunc) rpc.CallFunc {
			return func(ctx context.Context, c *rpc.Call) (rpc.Result, error) {
				tr.add("method")
				return next(ctx, c)
			}
		}},
		Handler: func(ctx context.Context, n int, s string) (string, error) {
			tr.add("handler")
			if n == 500 {
				return "", errors.New("the handler failed")
			}
			return fmt.Sprintf("%d%s", n, s), nil
		},
	})
	reg.Register(rpc.Method{ID: "/v1/admin/op", Permissions: []string{"admin"},
		Handler: func(ctx context.Context) error { return nil }})
	return reg, obs
}

func TestMiddlewareSeesAndWraps(t *testing.T) {
	t.Parallel()
	tr := &trail{}
	reg, _ := middlewareRegistry(t, tr, slog.New(slog.DiscardHandler))
	c := rpctest.New(reg).As(plainToken)

	var got string
	c.Call(t, "/v1/echo", 7, "x").Decode(t, &got)
	assert.Equal(t, "7x", got)
	assert.Equal(t, []string{"registry", "method", "handler", "registry after"}, tr.order)
	assert.Equal(t, []seen{{Method: "/v1/echo", User: "plain", Params: []any{7, "x"}}}, tr.calls)

	// An omitted optional parameter is the handler's zero value.
	tr.calls = nil
	c.Call(t, "/v1/echo", 8)
	assert.Equal(t, []seen{{Method: "/v1/echo", User: "plain", Params: []any{8, ""}}}, tr.calls)
}

func TestMiddlewareRunsAfterThePermissionAndParameterChecks(t *testing.T) {
	t.Parallel()
	tr := &trail{}
	reg, _ := middlewareRegistry(t, tr, slog.New(slog.DiscardHandler))
	c := rpctest.New(reg)

	assert.Equal(t, rpc.CodeInsufficientPermissions, c.Call(t, "/v1/echo", 1).Code, "a guest")
	assert.Equal(t, rpc.CodeInsufficientPermissions, c.As(plainToken).Call(t, "/v1/admin/op").Code)
	assert.Equal(t, rpc.CodeInvalidParams, c.As(plainToken).Call(t, "/v1/echo", "seven").Code)
	assert.Empty(t, tr.calls, "middleware ran for a call refused before it")

	assert.Equal(t, rpc.CodeOK, c.As(adminToken).Call(t, "/v1/admin/op").Code)
	assert.Equal(t, []seen{{Method: "/v1/admin/op", User: "ada", Params: nil}}, tr.calls)
}

func TestMiddlewareRefusal(t *testing.T) {
	t.Parallel()
	tr := &trail{}
	reg, obs := middlewareRegistry(t, tr, slog.New(slog.DiscardHandler))
	a := rpctest.New(reg).As(plainToken).Call(t, "/v1/echo", 13)
	assert.Equal(t, rpc.CodeForbidden, a.Code)
	assert.Equal(t, "13 is refused here", a.Message)
	assert.Equal(t, []string{"registry"}, tr.order, "neither the method's middleware nor the handler ran")

	rec := obs.last()
	assert.Equal(t, "/v1/echo", rec.Method)
	assert.Equal(t, rpc.CodeForbidden, rec.Code)
	assert.Equal(t, "13 is refused here", rec.StatusText)
	assert.True(t, rec.Error)
	assert.False(t, rec.Declined, "a refusal of the host's is an error, not a permission decline")
	assert.Equal(t, int64(3), rec.UserID)
}

func TestMiddlewarePanicIsAnInternalError(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	reg := rpc.New(rpc.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Middleware: []rpc.Middleware{func(next rpc.CallFunc) rpc.CallFunc {
			return func(ctx context.Context, c *rpc.Call) (rpc.Result, error) { panic("middleware bug") }
		}},
	})
	reg.Register(rpc.Method{ID: "/v1/x", Permissions: []string{auth.Anyone}, Handler: func(context.Context) error { return nil }})
	a := rpctest.New(reg).Call(t, "/v1/x")
	assert.Equal(t, rpc.CodeInternal, a.Code)
	assert.True(t, a.Exception)
	assert.Contains(t, logs.String(), "middleware bug")
}

func TestMiddlewareOverWebSocketAndVoid(t *testing.T) {
	t.Parallel()
	tr := &trail{}
	reg, obs := middlewareRegistry(t, tr, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(reg)
	defer srv.Close()

	ws := dialWS(t, srv, plainToken)
	ws.sendText(`{"jsonrpc":"2.0","id":1,"method":"/v1/echo","params":[5,"w"]}`)
	assert.Contains(t, ws.readText(), `"5w"`)
	ws.sendText(`{"jsonrpc":"2.0","id":2,"method":"/v1/echo","params":[13]}`)
	assert.Contains(t, ws.readText(), "13 is refused here")
	tr.mu.Lock()
	assert.Equal(t, []seen{
		{Method: "/v1/echo", User: "plain", Params: []any{5, "w"}},
		{Method: "/v1/echo", User: "plain", Params: []any{13, ""}},
	}, tr.calls)
	tr.calls = nil
	tr.mu.Unlock()

	// A void call's middleware runs in the background, and sees it is void.
	before := obs.count()
	a := rpctest.New(reg).As(plainToken).With(rpc.HeaderVoidCall, "true").Call(t, "/v1/echo", 13)
	assert.Equal(t, rpc.CodeOK, a.Code)
	require.Eventually(t, func() bool { return obs.count() > before }, 5e9, 1e7)
	assert.Equal(t, rpc.CodeForbidden, obs.last().Code)
	tr.mu.Lock()
	assert.Equal(t, []seen{{Method: "/v1/echo", User: "plain", Params: []any{13, ""}, Void: true}}, tr.calls)
	tr.mu.Unlock()
}

type requestIDKey struct{}

// requestIDs is a slog.Handler that adds the request id a host's HTTP
// middleware put in the context.
type requestIDs struct{ slog.Handler }

func (h requestIDs) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func TestHandlerFailureLogsCarryTheRequestContext(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	tr := &trail{}
	reg, _ := middlewareRegistry(t, tr, slog.New(requestIDs{slog.NewTextHandler(&logs, nil)}))
	req := httptest.NewRequest("POST", "/v1/echo", strings.NewReader("[500]"))
	req = req.WithContext(context.WithValue(req.Context(), requestIDKey{}, "req-42"))
	a := rpctest.New(reg).As(plainToken).Do(t, req)
	assert.Equal(t, rpc.CodeInternal, a.Code)
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "rpc: handler failed") {
			line = l
		}
	}
	assert.Contains(t, line, "request_id=req-42", "the handler's failure is logged with the request's context: %s", logs.String())
}
