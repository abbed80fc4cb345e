package settings

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/authrpc/authrpc/oauth"
)

// The OAuth settings: the providers (client secrets inside, so the whole
// value is a secret setting, sealed with Options.Keys), the redirect URLs
// allowed, and the linking rule.
const (
	keyOAuthProviders         = "oauth_providers"
	keyOAuthRedirectURLs      = "oauth_redirect_urls"
	keyOAuthLinkVerifiedEmail = "oauth_link_verified_email"
)

// oauthProviderPatch is a provider as update takes it: client_secret left
// out keeps the stored one while type, issuer and client_id stay the same.
type oauthProviderPatch struct {
	Type         string   `json:"type" jsonschema:"enum=oidc,enum=github" jsonschema_description:"oidc: any OpenID Connect issuer, by discovery; github: GitHub."`
	Issuer       string   `json:"issuer,omitempty" jsonschema_description:"The issuer's URL (oidc only)."`
	ClientID     string   `json:"client_id"`
	ClientSecret *string  `json:"client_secret,omitempty" jsonschema_description:"Write only: read answers client_secret_set. Left out, the stored secret is kept while type, issuer and client_id stay the same; empty clears it."`
	Scopes       []string `json:"scopes,omitempty"`
}

// oauthProviderView is a provider as read answers it.
type oauthProviderView struct {
	Type            string   `json:"type"`
	Issuer          string   `json:"issuer,omitempty"`
	ClientID        string   `json:"client_id"`
	ClientSecretSet bool     `json:"client_secret_set"`
	Scopes          []string `json:"scopes,omitempty"`
}

// OAuth answers the OAuth settings; it fits oauth.Options.Source. While
// the stored oauth_providers does not decrypt (see Options.Keys) it
// answers the *SecretError instead.
func (m *Module) OAuth(ctx context.Context) (oauth.Config, error) {
	snap, err := m.current(ctx)
	if err != nil {
		return oauth.Config{}, err
	}
	if err := snap.unreadable[keyOAuthProviders]; err != nil {
		return oauth.Config{}, err
	}
	s := snap.settings
	return oauth.Config{Providers: maps.Clone(s.OAuthProviders), RedirectURLs: slices.Clone(s.OAuthRedirectURLs), LinkVerifiedEmail: s.OAuthLinkVerifiedEmail}, nil
}

// checkOAuthProviders checks the oauth_providers of an update.
func checkOAuthProviders(raw json.RawMessage) (map[string]oauthProviderPatch, string) {
	var in map[string]oauthProviderPatch
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, "the value does not fit the field"
	}
	c := oauth.Config{Providers: map[string]oauth.Provider{}}
	for name, p := range in {
		c.Providers[name] = p.provider("")
	}
	return in, c.Check()
}

func checkRedirectURLs(raw json.RawMessage) ([]string, string) {
	var urls []string
	if err := json.Unmarshal(raw, &urls); err != nil {
		return nil, "the value does not fit the field"
	}
	if len(urls) > 100 {
		return nil, "must hold at most 100 URLs"
	}
	if urls == nil {
		urls = []string{}
	}
	return urls, oauth.Config{RedirectURLs: urls}.Check()
}

func (p oauthProviderPatch) provider(secret string) oauth.Provider {
	if p.ClientSecret != nil {
		secret = *p.ClientSecret
	}
	return oauth.Provider{Type: p.Type, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: secret, Scopes: p.Scopes}
}

// keepOAuthSecrets turns the oauth_providers of an update into the
// providers stored: a provider without client_secret takes the stored one
// of its name while its type, issuer and client_id are those it was
// entered for (it must never be sent to another issuer an admin may
// control).
func (m *Module) keepOAuthSecrets(stored, values map[string]json.RawMessage) {
	raw, ok := values[keyOAuthProviders]
	if !ok {
		return
	}
	var in map[string]oauthProviderPatch
	_ = json.Unmarshal(raw, &in) // checked by values
	old := map[string]oauth.Provider{}
	if s, ok := stored[keyOAuthProviders]; ok {
		plain := []byte(s)
		if sealed(s) {
			var err error
			if plain, err = m.opts.Keys.open(keyOAuthProviders, s); err != nil {
				plain = nil // no secret is kept from a value that does not decrypt
			}
		}
		_ = json.Unmarshal(plain, &old)
	}
	out := make(map[string]oauth.Provider, len(in))
	for name, p := range in {
		secret := ""
		if o, ok := old[name]; ok && o.Type == p.Type && o.Issuer == p.Issuer && o.ClientID == p.ClientID {
			secret = o.ClientSecret
		}
		out[name] = p.provider(secret)
	}
	b, _ := json.Marshal(out)
	values[keyOAuthProviders] = b
}

// oauthView is what read answers of the providers.
func oauthView(providers map[string]oauth.Provider) map[string]oauthProviderView {
	out := make(map[string]oauthProviderView, len(providers))
	for name, p := range providers {
		out[name] = oauthProviderView{Type: p.Type, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecretSet: p.ClientSecret != "", Scopes: p.Scopes}
	}
	return out
}
