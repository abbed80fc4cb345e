package oauth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/oauth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

func TestAuthURLCarriesStatePKCEAndNonce(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, nil)
		u := e.authURL(t, "op")
		q := u.Query()
		assert.Equal(t, clientID, q.Get("client_id"))
		assert.Equal(t, redirectURL, q.Get("redirect_uri"))
		assert.Equal(t, "code", q.Get("response_type"))
		assert.Equal(t, "S256", q.Get("code_challenge_method"))
		assert.Len(t, q.Get("code_challenge"), 43)
		assert.Len(t, q.Get("state"), 43)
		assert.Len(t, q.Get("nonce"), 43)
		assert.Contains(t, q.Get("scope"), "openid")

		again := e.authURL(t, "op").Query()
		assert.NotEqual(t, q.Get("state"), again.Get("state"))
		assert.NotEqual(t, q.Get("nonce"), again.Get("nonce"))
		assert.NotEqual(t, q.Get("code_challenge"), again.Get("code_challenge"))

		gh := e.authURL(t, "github").Query()
		assert.Equal(t, "S256", gh.Get("code_challenge_method"))
		assert.Empty(t, gh.Get("nonce"), "GitHub is not OpenID Connect")
	})
}

func TestSignInThroughOP(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		code, state := e.signIn(t, alice)
		id, err := e.mod.Exchange(ctx, creds("op", code, state))
		require.NoError(t, err)
		assert.Equal(t, &oauth.Identity{Provider: "op", Subject: "sub-alice", Email: "alice@example.com", EmailVerified: true, Name: "alice"}, id)

		// The same code and state again: the attempt is used up.
		_, err = e.mod.Exchange(ctx, creds("op", code, state))
		requireRefused(t, err, "unknown, used or expired OAuth state")

		code, state = e.signIn(t, carl)
		id, err = e.mod.Exchange(ctx, creds("op", code, state))
		require.NoError(t, err)
		assert.Equal(t, "carl@example.com", id.Email)
		assert.False(t, id.EmailVerified)
	})
}

func TestSignInThroughGitHub(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		code, state, err := e.gh.Authorize(e.authURL(t, "github").String(), "octocat")
		require.NoError(t, err)
		id, err := e.mod.Exchange(ctx, creds("github", code, state))
		require.NoError(t, err)
		assert.Equal(t, &oauth.Identity{Provider: "github", Subject: "583231", Email: "octo@example.com", EmailVerified: true, Name: "octocat"}, id)

		_, err = e.mod.Exchange(ctx, creds("github", code, state))
		requireRefused(t, err, "unknown, used or expired OAuth state")
	})
}

// A code is bound to its attempt by PKCE: with the state of another
// attempt (an attacker's code injected into a victim's attempt, say) the
// provider refuses it, and the other attempt is used up.
func TestStateOfAnotherAttempt(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		code, _ := e.signIn(t, alice)
		other := e.authURL(t, "op").Query().Get("state")
		_, err := e.mod.Exchange(ctx, creds("op", code, other))
		requireRefused(t, err, `provider "op" refused the code`)

		// GitHub alike.
		code, _, err = e.gh.Authorize(e.authURL(t, "github").String(), "octocat")
		require.NoError(t, err)
		other = e.authURL(t, "github").Query().Get("state")
		_, err = e.mod.Exchange(ctx, creds("github", code, other))
		requireRefused(t, err, `provider "github" refused the code`)

		// A state of one provider with another's name.
		code, state := e.signIn(t, alice)
		_, err = e.mod.Exchange(ctx, creds("github", code, state))
		requireRefused(t, err, "belongs to another provider or redirect URL")

		// A forged state.
		_, err = e.mod.Exchange(ctx, creds("op", code, "forged-"+state))
		requireRefused(t, err, "unknown, used or expired OAuth state")
	})
}

func TestRedirectURLNotAllowed(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, func(o *oauth.Options) {
			o.Config.RedirectURLs = append(o.Config.RedirectURLs, "http://127.0.0.1:1/other")
		})
		for _, u := range []string{"http://127.0.0.1:1/oauth/callback/", "http://127.0.0.1:1/oauth/callback?x=1", "https://127.0.0.1:1/oauth/callback", "http://evil.example/oauth/callback", ""} {
			a := e.c.Call(t, "/v1/session/oauth-url", "op", u)
			require.Equal(t, 400, a.Code, a.Raw)
			assert.Contains(t, a.Message, "is not one the host allows")
		}
		// Completing with an allowed URL that is not the attempt's.
		code, state := e.signIn(t, alice)
		c := creds("op", code, state)
		c.RedirectURL = "http://127.0.0.1:1/other"
		_, err := e.mod.Exchange(context.Background(), c)
		requireRefused(t, err, "belongs to another provider or redirect URL")
		c.RedirectURL = "http://evil.example/"
		_, err = e.mod.Exchange(context.Background(), c)
		require.ErrorIs(t, err, oauth.ErrInvalid)
	})
}

func TestNonceMismatch(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, nil)
		e.op.ForgeNonce("a-nonce-of-another-attempt")
		code, state := e.signIn(t, alice)
		_, err := e.mod.Exchange(context.Background(), creds("op", code, state))
		requireRefused(t, err, "nonce mismatch")
	})
}

func TestIDTokenOfAnotherAudience(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, nil)
		e.op.AddClient("another-client", "another-secret", redirectURL)
		e.op.ImpersonateClient(clientID, "another-client")
		code, state := e.signIn(t, alice)
		_, err := e.mod.Exchange(context.Background(), creds("op", code, state))
		requireRefused(t, err, "issued to another client (audience)")
	})
}

func TestExpired(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, func(o *oauth.Options) { o.AttemptTTL = 3 * time.Hour })
		ctx := context.Background()
		// The OP's ID tokens last an hour.
		code, state := e.signIn(t, alice)
		e.clock.Advance(time.Hour + time.Minute)
		_, err := e.mod.Exchange(ctx, creds("op", code, state))
		requireRefused(t, err, "it expired")

		// The attempt itself.
		code, state = e.signIn(t, alice)
		e.clock.Advance(3 * time.Hour)
		_, err = e.mod.Exchange(ctx, creds("op", code, state))
		requireRefused(t, err, "unknown, used or expired OAuth state")
	})
}

func TestBadInputs(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, nil)
		for _, c := range []struct {
			body, msg string
		}{
			{`["nope", "` + redirectURL + `"]`, `unknown OAuth provider "nope"`},
			{`["op", "javascript:alert(1)"]`, "is not one the host allows"},
			{`["op"]`, "oauth_redirect_url"},
			{`[]`, "oauth_provider"},
			{`[1, 2]`, "oauth_provider"},
		} {
			a := e.c.Post(t, "/v1/session/oauth-url", c.body)
			require.Equal(t, 400, a.HTTP, a.Raw)
			assert.Contains(t, a.Message, c.msg)
		}
		n, err := db.NewSelect().Table("authrpc_oauth_attempts").Count(context.Background())
		require.NoError(t, err)
		assert.Zero(t, n, "no attempt stored")

		for _, c := range []struct {
			in  oauth.Credentials
			msg string
		}{
			{oauth.Credentials{Code: "c", State: "s", RedirectURL: redirectURL}, "oauth_provider is required"},
			{oauth.Credentials{Provider: "op", State: "s", RedirectURL: redirectURL}, "oauth_code is required"},
			{oauth.Credentials{Provider: "op", Code: "c", RedirectURL: redirectURL}, "oauth_state is required"},
			{oauth.Credentials{Provider: "op", Code: "c", State: "s"}, "oauth_redirect_url is required"},
			{oauth.Credentials{Provider: "nope", Code: "c", State: "s", RedirectURL: redirectURL}, `unknown OAuth provider "nope"`},
		} {
			_, err := e.mod.Exchange(context.Background(), c.in)
			var oe *oauth.Error
			require.ErrorAs(t, err, &oe)
			assert.ErrorIs(t, err, oauth.ErrInvalid)
			assert.Contains(t, oe.Message, c.msg)
		}

		a := e.c.Call(t, "/v1/session/get-oauth-providers")
		require.Equal(t, 200, a.Code, a.Raw)
		assert.JSONEq(t, `[{"name":"github","type":"github"},{"name":"op","type":"oidc"}]`, string(a.Data))
	})
}

func TestMountRefusesBadConfig(t *testing.T) {
	t.Parallel()
	db := storagetest.SQLite(t)
	for _, c := range []struct {
		cfg oauth.Config
		msg string
	}{
		{oauth.Config{Providers: map[string]oauth.Provider{"Bad Name": {Type: "oidc", Issuer: "https://x.example", ClientID: "a"}}}, "provider name"},
		{oauth.Config{Providers: map[string]oauth.Provider{"x": {Type: "saml", ClientID: "a"}}}, `type must be "oidc" or "github"`},
		{oauth.Config{Providers: map[string]oauth.Provider{"x": {Type: "oidc", Issuer: "ftp://x", ClientID: "a"}}}, "issuer must be"},
		{oauth.Config{Providers: map[string]oauth.Provider{"x": {Type: "oidc", Issuer: "https://x.example"}}}, "client_id must be"},
		{oauth.Config{RedirectURLs: []string{"/relative"}}, "redirect URL"},
	} {
		_, err := oauth.Mount(context.Background(), newRegistry(), db, oauth.Options{Config: c.cfg})
		require.Error(t, err)
		assert.Contains(t, err.Error(), c.msg)
	}
}

func requireRefused(t *testing.T, err error, msg string) {
	t.Helper()
	require.Error(t, err)
	require.True(t, errors.Is(err, oauth.ErrRefused), "%v", err)
	var oe *oauth.Error
	require.ErrorAs(t, err, &oe)
	assert.Contains(t, oe.Message, msg)
}

func TestURLLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.SQLite(t), func(o *oauth.Options) { o.URLLimit = rpc.RateLimit{Burst: 2, PerSecond: 1e-9} })
	e.authURL(t, "op")
	e.authURL(t, "op")
	a := e.c.Call(t, "/v1/session/oauth-url", "op", redirectURL)
	require.Equal(t, 429, a.HTTP, a.Raw)
}
