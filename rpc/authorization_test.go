package rpc_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// authorizedEnv is a registry whose callers are sessions and API tokens
// authorized at times the test sets.
type authorizedEnv struct {
	reg   *rpc.Registry
	c     *rpctest.Client
	clock *rpctest.Clock

	mu     sync.Mutex
	byTok  map[string]*auth.Principal
	tokens map[auth.Kind]string
}

func newAuthorizedEnv(t *testing.T, maxAge time.Duration) *authorizedEnv {
	t.Helper()
	e := &authorizedEnv{clock: rpctest.NewClock(), byTok: map[string]*auth.Principal{}, tokens: map[auth.Kind]string{}}
	e.reg = rpc.New(rpc.Options{Clock: e.clock, AuthorizedMaxAge: maxAge})
	lookup := auth.AuthenticatorFunc(func(_ context.Context, tok string) (*auth.Principal, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if p, ok := e.byTok[tok]; ok {
			return p, nil
		}
		return nil, auth.ErrUnknownToken
	})
	e.reg.Auth().Handle(auth.KindSession, lookup)
	e.reg.Auth().Handle(auth.KindAPIToken, lookup)
	for _, k := range []auth.Kind{auth.KindSession, auth.KindAPIToken} {
		tok, _, err := auth.NewToken(k)
		require.NoError(t, err)
		e.tokens[k] = tok
		e.byTok[tok] = &auth.Principal{UserID: 7, Username: "ann", Kind: k, TokenID: 1}
	}
	e.reg.Register(rpc.Method{ID: "/v1/fresh", Permissions: []string{auth.User}, RequireAuthorization: true,
		Handler: func(context.Context) error { return nil }})
	e.reg.Register(rpc.Method{ID: "/v1/own", Permissions: []string{auth.User},
		Handler: func(context.Context) error { return nil }})
	e.c = rpctest.New(e.reg)
	return e
}

// authorize marks the kind's principal authorized at the clock's now.
func (e *authorizedEnv) authorize(kind auth.Kind) {
	e.mu.Lock()
	defer e.mu.Unlock()
	tok := e.tokens[kind]
	p := *e.byTok[tok]
	p.AuthorizedAt = e.clock.Now()
	e.byTok[tok] = &p
	e.reg.Auth().Invalidate(auth.Invalidation{Kind: kind, TokenID: 1, Refresh: true})
}

func requireAuthorizationRequired(t *testing.T, a *rpctest.Answer) {
	t.Helper()
	require.Equal(t, 403, a.Code, a.Raw)
	require.Equal(t, true, a.Meta["authorization_required"], a.Raw)
	require.Contains(t, a.Message, "/v1/session/authorize")
}

func TestRequireAuthorization(t *testing.T) {
	t.Parallel()
	e := newAuthorizedEnv(t, 2*time.Minute)
	ses := e.c.As(e.tokens[auth.KindSession])

	requireAuthorizationRequired(t, ses.Call(t, "/v1/fresh"))
	// A guest meets the permission check first.
	require.Equal(t, rpc.CodeInsufficientPermissions, e.c.Call(t, "/v1/fresh").Code)

	e.authorize(auth.KindSession)
	require.Equal(t, 200, ses.Call(t, "/v1/fresh").Code)
	e.clock.Advance(2 * time.Minute)
	require.Equal(t, 200, ses.Call(t, "/v1/fresh").Code, "at exactly the max age")
	e.clock.Advance(time.Second)
	requireAuthorizationRequired(t, ses.Call(t, "/v1/fresh"))

	// An API token is never authorized, whatever its principal says.
	e.authorize(auth.KindAPIToken)
	requireAuthorizationRequired(t, e.c.As(e.tokens[auth.KindAPIToken]).Call(t, "/v1/fresh"))
}

func TestRequireAuthorizationByHost(t *testing.T) {
	t.Parallel()
	e := newAuthorizedEnv(t, 0)
	ses := e.c.As(e.tokens[auth.KindSession])
	require.Equal(t, 200, ses.Call(t, "/v1/own").Code)

	err := e.reg.RequireAuthorization("/v1/own", "/v1/nope")
	require.ErrorContains(t, err, `"/v1/nope"`)
	require.Equal(t, 200, ses.Call(t, "/v1/own").Code, "a failed RequireAuthorization changes nothing")

	require.NoError(t, e.reg.RequireAuthorization("/v1/own"))
	requireAuthorizationRequired(t, ses.Call(t, "/v1/own"))
	e.authorize(auth.KindSession)
	require.Equal(t, 200, ses.Call(t, "/v1/own").Code)
	require.True(t, e.reg.Authorized(e.byTok[e.tokens[auth.KindSession]]))
	e.clock.Advance(rpc.DefaultAuthorizedMaxAge + time.Second)
	requireAuthorizationRequired(t, ses.Call(t, "/v1/own"))

	// The reference and the OpenAPI document say so.
	var md strings.Builder
	require.NoError(t, e.reg.WriteMarkdown(&md))
	require.Equal(t, 2, strings.Count(md.String(), "Requires a recent authorization"), md.String())
	doc, err := e.reg.OpenAPI()
	require.NoError(t, err)
	require.Contains(t, string(doc), "authorization_required")
}

func TestOnActivity(t *testing.T) {
	t.Parallel()
	e := newAuthorizedEnv(t, 0)
	type seen struct {
		user int64
		at   time.Time
	}
	var mu sync.Mutex
	var got []seen
	e.reg.OnActivity(func(p *auth.Principal, at time.Time) {
		mu.Lock()
		got = append(got, seen{p.UserID, at})
		mu.Unlock()
	})
	e.c.Call(t, "/v1/own") // a guest is no activity
	e.c.As(e.tokens[auth.KindSession]).Call(t, "/v1/own")
	e.c.As(e.tokens[auth.KindSession]).Call(t, "/v1/fresh") // refused, but the caller was there
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []seen{{7, rpctest.ClockStart}, {7, rpctest.ClockStart}}, got)
}

func TestCallUserAgent(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{})
	reg.Register(rpc.Method{ID: "/v1/ua", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) (string, error) { return rpc.CallFromContext(ctx).UserAgent, nil }})
	a := rpctest.New(reg).With("User-Agent", "Mozilla/5.0 (test)").Call(t, "/v1/ua")
	require.JSONEq(t, `"Mozilla/5.0 (test)"`, string(a.Data))
}
