package oauth

import (
	"fmt"
	"github.com/authrpc/authrpc/internal/quote"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Provider types.
const (
	TypeOIDC   = "oidc"   // any OpenID Connect issuer, found by discovery
	TypeGitHub = "github" // GitHub's OAuth apps: OAuth 2.0 and its REST API
)

// GitHub's endpoints, the defaults of a "github" provider's URLs.
const (
	GitHubAuthURL  = "https://github.com/login/oauth/authorize"
	GitHubTokenURL = "https://github.com/login/oauth/access_token"
	GitHubAPIURL   = "https://api.github.com"
)

// Provider configures one provider. Its JSON form is the value of one entry
// of the oauth_providers setting.
type Provider struct {
	// Type is TypeOIDC or TypeGitHub.
	Type string `json:"type"`
	// Issuer is an OpenID Connect issuer's URL, where
	// /.well-known/openid-configuration is found; only for TypeOIDC. The ID
	// token's iss must be exactly this.
	Issuer string `json:"issuer,omitempty"`
	// ClientID and ClientSecret are the client's credentials at the provider.
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes asked for. Default: "openid email profile" for TypeOIDC
	// ("openid" is always added), "read:user user:email" for TypeGitHub.
	Scopes []string `json:"scopes,omitempty"`

	// AuthURL, TokenURL and APIURL replace GitHub's endpoints (GitHubAuthURL,
	// GitHubTokenURL, GitHubAPIURL): for GitHub Enterprise Server, or a stand-in
	// in tests. Only for TypeGitHub; only in Go options, never in settings.
	AuthURL  string `json:"-"`
	TokenURL string `json:"-"`
	APIURL   string `json:"-"`
}

// Config is what the flow runs on: the providers by name, the redirect URLs
// allowed, and the linking rule.
type Config struct {
	// Providers by the name the API uses as oauth_provider.
	Providers map[string]Provider `json:"oauth_providers"`
	// RedirectURLs are the only URLs a provider may send the browser back
	// to, compared exactly (scheme, host, port, path and query as written).
	RedirectURLs []string `json:"oauth_redirect_urls"`
	// LinkVerifiedEmail lets a first sign-in through a provider link to the
	// existing user whose email the provider says is verified. Default
	// false: such a sign-in is refused while that email is taken.
	LinkVerifiedEmail bool `json:"oauth_link_verified_email"`
}

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Check answers "" for a good configuration, else what is wrong with it,
// naming the provider or URL.
func (c Config) Check() string {
	for name, p := range c.Providers {
		if !providerName.MatchString(name) {
			return fmt.Sprintf("provider name %s must be 1 to 32 of a-z, 0-9, '_' and '-', starting with a letter or digit", quote.Short(name))
		}
		if msg := p.check(); msg != "" {
			return fmt.Sprintf("provider %s: %s", quote.Short(name), msg)
		}
	}
	for _, u := range c.RedirectURLs {
		if msg := checkURL(u, true); msg != "" {
			return fmt.Sprintf("redirect URL %s %s", quote.Short(u), msg)
		}
	}
	return ""
}

func (p Provider) check() string {
	switch p.Type {
	case TypeOIDC:
		if msg := checkURL(p.Issuer, false); msg != "" {
			return "issuer " + msg
		}
	case TypeGitHub:
		if p.Issuer != "" {
			return "a github provider has no issuer"
		}
		for _, u := range []string{p.AuthURL, p.TokenURL, p.APIURL} {
			if msg := checkURL(u, false); u != "" && msg != "" {
				return "endpoint " + msg
			}
		}
	default:
		return `type must be "oidc" or "github"`
	}
	if p.ClientID == "" || len(p.ClientID) > 512 || hasControl(p.ClientID) {
		return "client_id must be 1 to 512 bytes without control characters"
	}
	if len(p.ClientSecret) > 1024 || hasControl(p.ClientSecret) {
		return "client_secret must be at most 1024 bytes without control characters"
	}
	for _, s := range p.Scopes {
		if s == "" || len(s) > 128 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return "scopes must be words of 1 to 128 bytes without spaces"
		}
	}
	return ""
}

// checkURL answers "" for an absolute http(s) URL without credentials or
// fragment (a query only when query is true), else the rule.
func checkURL(s string, query bool) string {
	const rule = "must be an absolute http or https URL without credentials or fragment"
	u, err := url.Parse(s)
	if err != nil || len(s) > 2048 || hasControl(s) || strings.ContainsAny(s, " #") ||
		u.Opaque != "" || u.User != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") ||
		(!query && u.RawQuery != "") {
		return rule
	}
	return ""
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}

// merge returns c with over's providers added (a name in both keeps c's),
// its redirect URLs appended, and LinkVerifiedEmail when either says so.
func (c Config) merge(over Config) Config {
	out := Config{Providers: map[string]Provider{}, LinkVerifiedEmail: c.LinkVerifiedEmail || over.LinkVerifiedEmail}
	for n, p := range over.Providers {
		out.Providers[n] = p
	}
	for n, p := range c.Providers {
		out.Providers[n] = p
	}
	out.RedirectURLs = append(slices.Clone(c.RedirectURLs), over.RedirectURLs...)
	return out
}

// allowsRedirect says whether u is one of the redirect URLs, exactly.
func (c Config) allowsRedirect(u string) bool {
	return u != "" && slices.Contains(c.RedirectURLs, u)
}
