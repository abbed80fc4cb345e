package settings_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/oauth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage/storagetest"
)

const oauthSecret = "client-secret-that-must-never-show"

// The client secrets are write-only and stored sealed; one left out is
// kept while its provider still names the same issuer and client, and
// dropped when they change (it must not go to another issuer).
func TestOAuthProviders(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		keys := newKeys(t, settings.GenerateKey())
		e := newEnv(t, db, settings.Options{Keys: keys})
		ctx := context.Background()

		got := e.ok(t, "update", `[{"oauth_providers":{
			"corp":{"type":"oidc","issuer":"https://id.example.com","client_id":"app","client_secret":"`+oauthSecret+`"},
			"github":{"type":"github","client_id":"gh","client_secret":"gh-`+oauthSecret+`"}},
			"oauth_redirect_urls":["https://app.example.com/oauth/callback"],"oauth_link_verified_email":true}]`)
		assert.NotContains(t, got, oauthSecret)
		assert.Contains(t, got, `"oauth_providers":{"corp":{"type":"oidc","issuer":"https://id.example.com","client_id":"app","client_secret_set":true},"github":{"type":"github","client_id":"gh","client_secret_set":true}}`)
		assert.Contains(t, got, `"oauth_redirect_urls":["https://app.example.com/oauth/callback"],"oauth_link_verified_email":true`)
		assert.Equal(t, got, e.ok(t, "read", ``))
		v := storedValue(t, db, "oauth_providers")
		assert.True(t, strings.HasPrefix(v, "enc:v1:"+keys.KeyID()+":"), "stored as %q", v)
		assert.NotContains(t, v, oauthSecret)

		cfg, err := e.mod.OAuth(ctx)
		require.NoError(t, err)
		assert.Equal(t, oauth.Config{
			Providers: map[string]oauth.Provider{
				"corp":   {Type: "oidc", Issuer: "https://id.example.com", ClientID: "app", ClientSecret: oauthSecret},
				"github": {Type: "github", ClientID: "gh", ClientSecret: "gh-" + oauthSecret},
			},
			RedirectURLs: []string{"https://app.example.com/oauth/callback"}, LinkVerifiedEmail: true,
		}, cfg)

		// Left out: kept for corp (same issuer and client), dropped for
		// github (another client id); a provider left out goes.
		e.ok(t, "update", `[{"oauth_providers":{
			"corp":{"type":"oidc","issuer":"https://id.example.com","client_id":"app"},
			"github":{"type":"github","client_id":"gh2"}}}]`)
		cfg, err = e.mod.OAuth(ctx)
		require.NoError(t, err)
		assert.Equal(t, oauthSecret, cfg.Providers["corp"].ClientSecret)
		assert.Empty(t, cfg.Providers["github"].ClientSecret)

		e.ok(t, "update", `[{"oauth_providers":{"corp":{"type":"oidc","issuer":"https://evil.example","client_id":"app"}}}]`)
		cfg, err = e.mod.OAuth(ctx)
		require.NoError(t, err)
		assert.Empty(t, cfg.Providers["corp"].ClientSecret, "a secret never follows its provider to another issuer")
		assert.NotContains(t, cfg.Providers, "github")

		// Another instance reads the same.
		fresh := newEnv(t, db, settings.Options{Keys: keys})
		assert.Equal(t, e.ok(t, "read", ``), fresh.ok(t, "read", ``))
	})
}

func TestOAuthSettingsBadValues(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, settings.Options{})
		before := e.ok(t, "read", ``)
		for _, c := range []struct{ body, msg string }{
			{`[{"oauth_providers":{"corp":{"type":"saml","client_id":"a"}}}]`, "oauth_providers"},
			{`[{"oauth_providers":{"corp":{"type":"oidc","issuer":"not a url","client_id":"a"}}}]`, "issuer must be"},
			{`[{"oauth_providers":{"corp":{"type":"oidc","issuer":"https://id.example.com","client_id":""}}}]`, "client_id must be"},
			{`[{"oauth_providers":{"Bad Name":{"type":"github","client_id":"a"}}}]`, "provider name"},
			{`[{"oauth_providers":{"gh":{"type":"github","issuer":"https://x.example","client_id":"a"}}}]`, "no issuer"},
			{`[{"oauth_providers":[]}]`, "oauth_providers"},
			{`[{"oauth_redirect_urls":["/relative"]}]`, "redirect URL"},
			{`[{"oauth_redirect_urls":["https://a.example/#frag"]}]`, "redirect URL"},
			{`[{"oauth_redirect_urls":"https://a.example/"}]`, "oauth_redirect_urls"},
			{`[{"oauth_link_verified_email":"yes"}]`, "oauth_link_verified_email"},
		} {
			a := e.refused(t, rpc.CodeInvalidParams, "update", c.body)
			assert.Contains(t, a.Message, c.msg, c.body)
		}
		assert.Equal(t, before, e.ok(t, "read", ``), "nothing stored")
	})
}
