package rpc_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

const invalidToken = `Bearer error="invalid_token"`

// A bearer token that does not authenticate gets RFC 6750's challenge on
// every answer, so that a client can tell "sign in again" from "not
// allowed"; the body is a guest's, as it was. No token, a token that
// authenticates (allowed or not), and a token the host's middleware took
// get no challenge.
func TestInvalidTokenChallenge(t *testing.T) {
	t.Parallel()
	reg := newAdminRegistry()
	whoami(reg)
	reg.Register(rpc.Method{ID: "/v1/public", Permissions: []string{auth.Anyone},
		Handler: func(context.Context) (string, error) { return "hi", nil }})
	sessions := map[string]*auth.Principal{}
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(_ context.Context, tok string) (*auth.Principal, error) {
		if p := sessions[tok]; p != nil {
			return p, nil
		}
		return nil, auth.ErrUnknownToken
	}))
	newSession := func(p *auth.Principal) string {
		tok, _, err := auth.NewToken(auth.KindSession)
		require.NoError(t, err)
		if p != nil {
			sessions[tok] = p
		}
		return tok
	}
	valid := newSession(&auth.Principal{UserID: 20, Username: "sam", Kind: auth.KindSession})
	revoked := newSession(&auth.Principal{UserID: 21, Username: "rex", Kind: auth.KindSession})
	unknown := newSession(nil)
	c := rpctest.New(reg)

	c.As(revoked).Call(t, "/v1/whoami") // cached, then revoked
	delete(sessions, revoked)
	reg.Auth().Invalidate(auth.Invalidation{UserID: 21})

	guest := c.Call(t, "/v1/whoami")
	require.Equal(t, rpc.CodeInsufficientPermissions, guest.Code)
	assert.Empty(t, guest.Header.Values("WWW-Authenticate"), "a guest without a token")

	for name, tok := range map[string]string{
		"revoked":       revoked,
		"unknown":       unknown,
		"malformed":     "ses_short",
		"nobody's kind": "eyJ.not.ours",
	} {
		a := c.As(tok).Call(t, "/v1/whoami")
		assert.Equal(t, []string{invalidToken}, a.Header.Values("WWW-Authenticate"), name)
		assert.Equal(t, guest.HTTP, a.HTTP, name)
		assert.Equal(t, guest.Raw, a.Raw, "%s: the body is a guest's", name)

		a = c.As(tok).Call(t, "/v1/public")
		assert.Equal(t, rpc.CodeOK, a.Code, "%s: a method open to guests still answers", name)
		assert.Equal(t, []string{invalidToken}, a.Header.Values("WWW-Authenticate"), name)
	}

	a := c.As(valid).Call(t, "/v1/admin/whoami")
	assert.Equal(t, rpc.CodeInsufficientPermissions, a.Code)
	assert.Empty(t, a.Header.Values("WWW-Authenticate"), "signed in, but not allowed")
	a = c.As(valid).Call(t, "/v1/whoami")
	assert.Equal(t, rpc.CodeOK, a.Code)
	assert.Empty(t, a.Header.Values("WWW-Authenticate"))

	mw := rpctest.New(withPrincipal(&auth.Principal{UserID: 30, Username: "mia", Kind: "cookie"}, reg))
	a = mw.As("eyJ.checked-by.the-middleware").Call(t, "/v1/whoami")
	assert.Equal(t, rpc.CodeOK, a.Code, a.Raw)
	assert.Empty(t, a.Header.Values("WWW-Authenticate"), "the middleware authenticated the caller")
	a = mw.As(unknown).Call(t, "/v1/whoami")
	assert.Equal(t, rpc.CodeInsufficientPermissions, a.Code, "a token an authenticator refuses wins over the middleware")
	assert.Equal(t, []string{invalidToken}, a.Header.Values("WWW-Authenticate"))

	// A void call is answered at once, with the challenge too.
	a = c.As(unknown).With(rpc.HeaderVoidCall, "true").Call(t, "/v1/public")
	assert.Equal(t, rpc.CodeOK, a.Code, a.Raw)
	assert.Equal(t, []string{invalidToken}, a.Header.Values("WWW-Authenticate"))
}

// A page on another origin may read the challenge.
func TestCORSExposesTheChallenge(t *testing.T) {
	t.Parallel()
	srv := corsServer(t, &rpc.CORSOptions{AllowedOrigins: []string{"https://app.example.com"}})
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/echo", strings.NewReader(`["hi"]`))
	require.NoError(t, err)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Authorization", "Bearer ses_revoked")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	assert.Equal(t, invalidToken, res.Header.Get("WWW-Authenticate"))
	assert.Equal(t, "Www-Authenticate", res.Header.Get("Access-Control-Expose-Headers"))
}
