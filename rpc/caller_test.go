package rpc_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// signedTokens is a host's own bearer format, JWT-like without a JWT
// library: "hs1.<base64url claims>.<base64url HMAC-SHA256 of the claims>".
type signedTokens struct {
	key     []byte
	calls   atomic.Int64
	mu      sync.Mutex
	revoked map[int64]bool // by user id, as a host's "sign out everywhere" would
}

type signedClaims struct {
	Sub   int64    `json:"sub"`
	Name  string   `json:"name"`
	Perms []string `json:"perms"`
	Exp   int64    `json:"exp"`
}

func (s *signedTokens) sign(c signedClaims) string {
	body, _ := json.Marshal(c)
	payload := base64.RawURLEncoding.EncodeToString(body)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(payload))
	return "hs1." + payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (s *signedTokens) Authenticate(_ context.Context, token string) (*auth.Principal, error) {
	s.calls.Add(1)
	payload, sig, ok := strings.Cut(strings.TrimPrefix(token, "hs1."), ".")
	if !ok {
		return nil, auth.ErrUnknownToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(payload))
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return nil, auth.ErrUnknownToken
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	var c signedClaims
	if err != nil || json.Unmarshal(body, &c) != nil || c.Sub == 0 || time.Now().Unix() >= c.Exp {
		return nil, auth.ErrUnknownToken
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revoked[c.Sub] {
		return nil, auth.ErrUnknownToken
	}
	p := &auth.Principal{UserID: c.Sub, Username: c.Name, Permissions: map[string]bool{}, ExpiresAt: time.Unix(c.Exp, 0)}
	for _, name := range c.Perms {
		p.Permissions[name] = true
	}
	return p, nil
}

// whoami registers a "user" method and an "admin" one that answer the
// caller's name and token kind.
func whoami(reg *rpc.Registry) {
	answer := func(ctx context.Context) (string, error) {
		p := auth.FromContext(ctx)
		return p.Username + "/" + string(p.Kind), nil
	}
	reg.Register(rpc.Method{ID: "/v1/whoami", Permissions: []string{auth.User}, Handler: answer})
	reg.Register(rpc.Method{ID: "/v1/admin/whoami", Permissions: []string{"admin"}, Handler: answer})
}

func newAdminRegistry() *rpc.Registry {
	return rpc.New(rpc.Options{Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"})})
}

func TestHostAuthenticator(t *testing.T) {
	t.Parallel()
	reg := newAdminRegistry()
	whoami(reg)
	hs := &signedTokens{key: []byte("test key, 32 bytes long........."), revoked: map[int64]bool{}}
	reg.Auth().HandlePrefix("hs", "hs1.", hs)
	c := rpctest.New(reg)
	exp := time.Now().Add(time.Hour).Unix()

	alice := c.As(hs.sign(signedClaims{Sub: 10, Name: "alice", Exp: exp}))
	admin := c.As(hs.sign(signedClaims{Sub: 11, Name: "ada", Perms: []string{"admin"}, Exp: exp}))

	var who string
	alice.Call(t, "/v1/whoami").Decode(t, &who)
	assert.Equal(t, "alice/hs", who)
	assert.Equal(t, rpc.CodeInsufficientPermissions, alice.Call(t, "/v1/admin/whoami").Code)
	admin.Call(t, "/v1/admin/whoami").Decode(t, &who)
	assert.Equal(t, "ada/hs", who)

	// A forged signature, an expired token and a token nobody takes are guests.
	forged := hs.sign(signedClaims{Sub: 10, Name: "alice", Perms: []string{"admin"}, Exp: exp})
	forged = forged[:len(forged)-2] + "AA"
	for _, tok := range []string{forged, hs.sign(signedClaims{Sub: 10, Exp: time.Now().Add(-time.Minute).Unix()}), "eyJ.not.ours"} {
		assert.Equal(t, rpc.CodeInsufficientPermissions, c.As(tok).Call(t, "/v1/whoami").Code, tok)
	}

	// Cached like the built-in kinds; an invalidation drops the entry, so a
	// revocation shows on the next call.
	calls := hs.calls.Load()
	alice.Call(t, "/v1/whoami")
	assert.Equal(t, calls, hs.calls.Load(), "a second call with the same token asked the authenticator again")
	hs.mu.Lock()
	hs.revoked[10] = true
	hs.mu.Unlock()
	assert.Equal(t, rpc.CodeOK, alice.Call(t, "/v1/whoami").Code, "served from the cache until invalidated")
	reg.Auth().Invalidate(auth.Invalidation{UserID: 10})
	assert.Equal(t, rpc.CodeInsufficientPermissions, alice.Call(t, "/v1/whoami").Code, "a revoked token passed after Invalidate")
	assert.Equal(t, rpc.CodeOK, admin.Call(t, "/v1/admin/whoami").Code, "another user's entry was dropped too")
}

// withPrincipal is a host's middleware that authenticates by its own means
// (a cookie, a token it checked itself) and puts the principal in the context.
func withPrincipal(p *auth.Principal, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		next.ServeHTTP(w, req.WithContext(auth.NewContext(req.Context(), p)))
	})
}

func TestPrincipalFromContext(t *testing.T) {
	t.Parallel()
	reg := newAdminRegistry()
	whoami(reg)
	sessions := map[string]*auth.Principal{}
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(_ context.Context, tok string) (*auth.Principal, error) {
		if p := sessions[tok]; p != nil {
			return p, nil
		}
		return nil, auth.ErrUnknownToken
	}))
	session, _, err := auth.NewToken(auth.KindSession)
	require.NoError(t, err)
	sessions[session] = &auth.Principal{UserID: 20, Username: "sam", Kind: auth.KindSession}
	unknown, _, err := auth.NewToken(auth.KindSession)
	require.NoError(t, err)

	mw := &auth.Principal{UserID: 30, Username: "mia", Kind: "cookie", Permissions: map[string]bool{"admin": true}}
	c := rpctest.New(withPrincipal(mw, reg))

	var who string
	c.Call(t, "/v1/whoami").Decode(t, &who)
	assert.Equal(t, "mia/cookie", who, "no bearer token: the middleware's principal")
	c.Call(t, "/v1/admin/whoami").Decode(t, &who)
	assert.Equal(t, "mia/cookie", who)
	c.As("eyJhbGciOi.checked-by.the-middleware").Call(t, "/v1/whoami").Decode(t, &who)
	assert.Equal(t, "mia/cookie", who, "a token no authenticator takes: the middleware's principal")

	c.As(session).Call(t, "/v1/whoami").Decode(t, &who)
	assert.Equal(t, "sam/ses", who, "a bearer token an authenticator takes wins")
	assert.Equal(t, rpc.CodeInsufficientPermissions, c.As(session).Call(t, "/v1/admin/whoami").Code,
		"the session's permissions, not the middleware's")
	assert.Equal(t, rpc.CodeInsufficientPermissions, c.As(unknown).Call(t, "/v1/whoami").Code,
		"an unknown session is a guest, whatever the middleware said")

	guest := rpctest.New(withPrincipal(nil, reg))
	assert.Equal(t, rpc.CodeInsufficientPermissions, guest.Call(t, "/v1/whoami").Code)
}
