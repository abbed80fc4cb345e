package users_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/logbuf"
	"github.com/authrpc/authrpc/oauth"
	"github.com/authrpc/authrpc/oauth/oauthtest"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

const oauthRedirect = "http://127.0.0.1:1/oauth/callback"

var (
	opAlice = oauthtest.User{Subject: "sub-alice", Username: "alice", Password: "alice-pw", Email: "alice@example.com", EmailVerified: true}
	opCarl  = oauthtest.User{Subject: "sub-carl", Username: "carl", Password: "carl-pw", Email: "carl@example.com"}
)

// oauthEnv is an env whose users module signs in through an OP.
type oauthEnv struct {
	*env
	op *oauthtest.OP
}

// newOAuthEnv mounts oauth (an OP as provider "op"; linkByEmail as
// oauth_link_verified_email) and users on one registry.
func newOAuthEnv(t *testing.T, db *bun.DB, linkByEmail bool, tweak ...func(*users.Options)) *oauthEnv {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, db: db, clock: &clock{now: time.Now().UTC()}, out: new(logbuf.Buffer), logs: new(logbuf.Buffer)}
	e.reg = rpc.New(rpc.Options{
		Permissions: declared(),
		Auth:        auth.NewMux(auth.MuxOptions{Now: e.clock.Now}),
		Logger:      slog.New(slog.NewTextHandler(e.logs, nil)),
	})
	e.c = rpctest.New(e.reg)
	op := oauthtest.NewOP(t, "app", "app-secret", []string{oauthRedirect}, opAlice, opCarl)
	om, err := oauth.Mount(ctx, e.reg, db, oauth.Options{Now: e.clock.Now, Config: oauth.Config{
		Providers:         map[string]oauth.Provider{"op": {Type: oauth.TypeOIDC, Issuer: op.Issuer, ClientID: "app", ClientSecret: "app-secret"}},
		RedirectURLs:      []string{oauthRedirect},
		LinkVerifiedEmail: linkByEmail,
	}})
	require.NoError(t, err)
	opts := users.Options{RootPassword: rootPassword, Out: e.out, Hasher: fastHasher(), Now: e.clock.Now, OAuth: om}
	for _, f := range tweak {
		f(&opts)
	}
	e.mod, err = users.Mount(ctx, e.reg, db, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, e.mod.Close(context.Background()))
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return &oauthEnv{env: e, op: op}
}

// creds begins an attempt and signs in at the OP as u: the credentials
// object to send.
func (e *oauthEnv) creds(t *testing.T, u oauthtest.User) map[string]string {
	t.Helper()
	a := e.ok(t, "", "/v1/session/oauth-url", "op", oauthRedirect)
	var out struct{ URL string }
	a.Decode(t, &out)
	code, state, err := e.op.SignIn(context.Background(), out.URL, u.Username, u.Password)
	require.NoError(t, err)
	return map[string]string{"oauth_provider": "op", "oauth_code": code, "oauth_redirect_url": oauthRedirect, "oauth_state": state}
}

type identityRec struct {
	ID            string    `json:"id"`
	Provider      string    `json:"provider"`
	Subject       string    `json:"subject"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Created       time.Time `json:"created"`
}

func (e *oauthEnv) identities(t *testing.T, token, method string, params ...any) []identityRec {
	t.Helper()
	var out []identityRec
	e.ok(t, token, method, params...).Decode(t, &out)
	return out
}

func TestOAuthSignUpThenSignIn(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newOAuthEnv(t, db, false, openSignup)
		c := e.creds(t, opAlice)
		a := e.ok(t, "", "/v1/session/signin", c)
		var s signin
		a.Decode(t, &s)
		require.True(t, strings.HasPrefix(s.Token, "ses_"), a.Raw)
		assert.Equal(t, "alice", s.Auth.Username)
		require.NotNil(t, s.Auth.Email)
		assert.Equal(t, "alice@example.com", *s.Auth.Email)
		assert.True(t, s.Auth.EmailConfirmed, "the provider verified it")
		assert.Equal(t, map[string]bool{"admin": false, "billing": false, "reports": true}, s.Auth.Permissions, "the default permissions")

		// The same code and state again.
		r := e.refused(t, 401, "", "/v1/session/signin", c)
		assert.Contains(t, r.Message, "unknown, used or expired OAuth state")

		// Signing in again is the same user.
		var again signin
		e.ok(t, "", "/v1/session/signin", e.creds(t, opAlice)).Decode(t, &again)
		assert.Equal(t, s.Auth.UserID, again.Auth.UserID)

		ids := e.identities(t, s.Token, "/v1/profile/get-identities")
		require.Len(t, ids, 1)
		assert.Equal(t, "op", ids[0].Provider)
		assert.Equal(t, "sub-alice", ids[0].Subject)
		assert.Equal(t, "alice@example.com", ids[0].Email)
		assert.True(t, ids[0].EmailVerified)
		assert.Equal(t, ids, e.identities(t, e.root(t), "/v1/admin/users/get-identities", "alice"))
		e.refused(t, rpc.CodeInsufficientPermissions, s.Token, "/v1/admin/users/get-identities", "alice")

		// Without a password the one identity is the only way in.
		e.ok(t, s.Token, "/v1/session/authorize", e.creds(t, opAlice))
		r = e.refused(t, 409, s.Token, "/v1/profile/remove-identity", ids[0].ID)
		assert.Contains(t, r.Message, "last way to sign in")
		assert.Len(t, e.identities(t, s.Token, "/v1/profile/get-identities"), 1)

		// signup with a provider's code signs up (or in) and answers a session.
		var up signin
		e.ok(t, "", "/v1/session/signup", e.creds(t, opCarl)).Decode(t, &up)
		assert.Equal(t, "carl", up.Auth.Username)
		assert.Nil(t, up.Auth.Email, "an email the provider did not verify is not given to the user")
		assert.NotEqual(t, s.Auth.UserID, up.Auth.UserID)
	})
}

func TestOAuthSignupClosed(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newOAuthEnv(t, db, true)
		before := e.snapshot(t)
		r := e.refused(t, 403, "", "/v1/session/signin", e.creds(t, opAlice))
		assert.Equal(t, "signup is disabled", r.Message)
		assert.Equal(t, before, e.snapshot(t))
		assert.Zero(t, e.count(t, "user_identities"))
	})
}

// A first sign-in links to an existing user by email only when the
// provider verified the email and the host allows it.
func TestOAuthLinkByEmail(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		for _, allow := range []bool{false, true} {
			e := newOAuthEnv(t, db, allow, openSignup)
			root := e.root(t)
			if !allow {
				e.ok(t, root, "/v1/admin/users/create", map[string]any{"username": "alison", "password": "alison-password", "email": "alice@example.com"})
				e.ok(t, root, "/v1/admin/users/create", map[string]any{"username": "carla", "password": "carla-password", "email": "carl@example.com"})
			}
			// The attack: an account at the provider with the email of an
			// existing user, which the provider did not verify.
			r := e.refused(t, 409, "", "/v1/session/signin", e.creds(t, opCarl))
			assert.Contains(t, r.Message, "has not verified it: nothing was linked")

			c := e.creds(t, opAlice)
			if !allow {
				r = e.refused(t, 409, "", "/v1/session/signin", c)
				assert.Contains(t, r.Message, "not linked by email here")
				assert.Zero(t, e.count(t, "user_identities"))
				continue
			}
			var s signin
			e.ok(t, "", "/v1/session/signin", c).Decode(t, &s)
			assert.Equal(t, "alison", s.Auth.Username, "linked to the user of the verified email")
			ids := e.identities(t, s.Token, "/v1/profile/get-identities")
			require.Len(t, ids, 1)
			// She has a password: the identity can go.
			e.ok(t, s.Token, "/v1/session/authorize", map[string]string{"password": "alison-password"})
			e.ok(t, s.Token, "/v1/profile/remove-identity", ids[0].ID)
			assert.Empty(t, e.identities(t, s.Token, "/v1/profile/get-identities"))
		}
	})
}

func TestOAuthBadInputs(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newOAuthEnv(t, db, false, openSignup)
		var s signin
		e.ok(t, "", "/v1/session/signin", e.creds(t, opAlice)).Decode(t, &s)
		ids := e.identities(t, s.Token, "/v1/profile/get-identities")
		root := e.root(t)
		e.ok(t, s.Token, "/v1/session/authorize", e.creds(t, opAlice))
		e.ok(t, root, "/v1/session/authorize", map[string]string{"password": rootPassword})
		before := e.snapshot(t)

		good := e.creds(t, opAlice)
		for _, c := range []struct {
			creds map[string]string
			code  int
			msg   string
		}{
			{map[string]string{"oauth_provider": "op"}, rpc.CodeInvalidParams, "credentials"},
			{map[string]string{"oauth_provider": "op", "oauth_code": "x", "oauth_redirect_url": oauthRedirect, "oauth_state": ""}, rpc.CodeInvalidParams, "credentials"},
			{map[string]string{"oauth_provider": "nope", "oauth_code": "x", "oauth_redirect_url": oauthRedirect, "oauth_state": "y"}, 400, `unknown OAuth provider "nope"`},
			{map[string]string{"oauth_provider": "op", "oauth_code": "x", "oauth_redirect_url": "http://evil.example/", "oauth_state": good["oauth_state"]}, 400, "is not one the host allows"},
			{map[string]string{"oauth_provider": "op", "oauth_code": "forged", "oauth_redirect_url": oauthRedirect, "oauth_state": "forged"}, 401, "unknown, used or expired OAuth state"},
			{map[string]string{"oauth_provider": "op", "oauth_code": good["oauth_code"], "oauth_redirect_url": oauthRedirect, "oauth_state": good["oauth_state"], "username": "x"}, rpc.CodeInvalidParams, "credentials"},
		} {
			r := e.refused(t, c.code, "", "/v1/session/signin", c.creds)
			assert.Contains(t, r.Message, c.msg, c.creds)
		}
		for _, c := range []struct {
			id   any
			code int
		}{{"0", 404}, {"x", 404}, {"999999", 404}, {7, rpc.CodeInvalidParams}} {
			e.refused(t, c.code, s.Token, "/v1/profile/remove-identity", c.id)
		}
		e.refused(t, rpc.CodeInsufficientPermissions, "", "/v1/profile/get-identities")
		e.refused(t, rpc.CodeInsufficientPermissions, "", "/v1/profile/remove-identity", ids[0].ID)
		e.refused(t, 404, root, "/v1/admin/users/get-identities", "nobody")
		// Another user's identity is not found.
		e.refused(t, 404, root, "/v1/profile/remove-identity", ids[0].ID)
		assert.Equal(t, before, e.snapshot(t))
		assert.Len(t, e.identities(t, s.Token, "/v1/profile/get-identities"), 1)
	})
}

// Without Options.OAuth, signin and signup keep the 2021 parameters.
func TestNoOAuthKeepsCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.SQLite(t), openSignup)
	e.refused(t, rpc.CodeInvalidParams, "", "/v1/session/signin", map[string]string{"oauth_provider": "op", "oauth_code": "x", "oauth_redirect_url": oauthRedirect, "oauth_state": "y"})
	e.refused(t, rpc.CodeInvalidParams, "", "/v1/session/signup", map[string]string{"oauth_provider": "op", "oauth_code": "x", "oauth_redirect_url": oauthRedirect, "oauth_state": "y"})
	e.refused(t, rpc.CodeMethodNotFound, "", "/v1/profile/get-identities")
}

// The step-up proof: a fresh code of the user's own identity, and no other.
func TestAuthorizeWithOAuth(t *testing.T) {
	t.Parallel()
	e := newOAuthEnv(t, storagetest.SQLite(t), false, openSignup)
	var alice signin
	e.ok(t, "", "/v1/session/signin", e.creds(t, opAlice)).Decode(t, &alice)
	e.ok(t, "", "/v1/session/signin", e.creds(t, opCarl))
	ids := e.identities(t, alice.Token, "/v1/profile/get-identities")

	r := e.refused(t, 403, alice.Token, "/v1/profile/remove-identity", ids[0].ID)
	assert.Equal(t, true, r.Meta["authorization_required"], r.Raw)

	r = e.refused(t, 401, alice.Token, "/v1/session/authorize", e.creds(t, opCarl))
	assert.Contains(t, r.Message, "not linked to you")
	c := e.creds(t, opAlice)
	e.ok(t, alice.Token, "/v1/session/authorize", c)
	r = e.refused(t, 401, alice.Token, "/v1/session/authorize", c)
	assert.Contains(t, r.Message, "unknown, used or expired OAuth state", "a code works once")

	// Authorized: the last way in is still refused, for its own reason.
	r = e.refused(t, 409, alice.Token, "/v1/profile/remove-identity", ids[0].ID)
	assert.Contains(t, r.Message, "last way to sign in")
}

// A provider's sign-in is a first factor: a user with a second factor
// completes it with a code, as after a password.
func TestOAuthSecondFactor(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ring := testKeyring(t)
		e := newOAuthEnv(t, db, false, openSignup, func(o *users.Options) { o.Keyring = ring })
		var s signin
		e.ok(t, "", "/v1/session/signin", e.creds(t, opAlice)).Decode(t, &s)
		e.ok(t, s.Token, "/v1/session/authorize", e.creds(t, opAlice))
		var en enrolment
		e.ok(t, s.Token, "/v1/profile/begin-totp").Decode(t, &en)
		e.ok(t, s.Token, "/v1/profile/confirm-totp", e.code(t, en.Secret, 0))

		a := e.refused(t, 401, "", "/v1/session/signin", e.creds(t, opAlice))
		assert.NotContains(t, a.Raw, `"ses_`)
		sf, ok := a.Meta["second_factor"].(map[string]any)
		require.True(t, ok, a.Raw)
		a = e.ok(t, "", "/v1/session/signin", map[string]any{"second_factor_token": sf["token"], "totp_code": e.code(t, en.Secret, 1)})
		var done signin
		a.Decode(t, &done)
		assert.Equal(t, "alice", done.Auth.Username)
	})
}
