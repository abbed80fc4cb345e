package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Identity is who a provider says signed in.
type Identity struct {
	Provider string // the provider's name in Config
	// Subject is the provider's stable id of the account: an OpenID
	// Connect sub, GitHub's numeric user id.
	Subject string
	// Email and EmailVerified are the account's email as the provider
	// gives it, and whether the provider says it is verified; "" when it
	// gives none.
	Email         string
	EmailVerified bool
	// Name is the account's display or login name, a hint for a new
	// user's name; it may be empty.
	Name string
}

// attempt is what a code is exchanged against: what the authorization URL
// was made with.
type attempt struct {
	provider, redirectURL, verifier, nonce string
}

// flow is one configured provider.
type flow interface {
	authURL(a attempt, state string) string
	exchange(ctx context.Context, a attempt, code string) (*Identity, error)
}

func (m *Module) oauth2Config(p Provider, ep oauth2.Endpoint, redirectURL string, scopes []string) *oauth2.Config {
	return &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: ep, RedirectURL: redirectURL, Scopes: scopes}
}

// httpContext makes x/oauth2 and go-oidc use the module's client.
func (m *Module) httpContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, m.client)
}

// oidcFlow is an OpenID Connect provider found by discovery.
type oidcFlow struct {
	m        *Module
	name     string
	p        Provider
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

func (m *Module) discover(ctx context.Context, name string, p Provider) (*oidcFlow, error) {
	// go-oidc keeps the context's client (not its deadline) for fetching
	// the signing keys later; the client's timeout bounds each request.
	prov, err := oidc.NewProvider(m.httpContext(ctx), p.Issuer)
	if err != nil {
		return nil, unavailable(err, "provider %q: discovery at %s failed", name, p.Issuer)
	}
	v := prov.Verifier(&oidc.Config{ClientID: p.ClientID, Now: m.now})
	return &oidcFlow{m: m, name: name, p: p, provider: prov, verifier: v}, nil
}

func (f *oidcFlow) scopes() []string {
	s := f.p.Scopes
	if len(s) == 0 {
		s = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	if !slices.Contains(s, oidc.ScopeOpenID) {
		s = append([]string{oidc.ScopeOpenID}, s...)
	}
	return s
}

func (f *oidcFlow) authURL(a attempt, state string) string {
	c := f.m.oauth2Config(f.p, f.provider.Endpoint(), a.redirectURL, f.scopes())
	return c.AuthCodeURL(state, oauth2.S256ChallengeOption(a.verifier), oidc.Nonce(a.nonce))
}

func (f *oidcFlow) exchange(ctx context.Context, a attempt, code string) (*Identity, error) {
	ctx = f.m.httpContext(ctx)
	c := f.m.oauth2Config(f.p, f.provider.Endpoint(), a.redirectURL, f.scopes())
	tok, err := c.Exchange(ctx, code, oauth2.VerifierOption(a.verifier))
	if err != nil {
		return nil, exchangeError(f.name, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return nil, refused(nil, "provider %q answered no ID token", f.name)
	}
	idt, err := f.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, refused(err, "the ID token from provider %q does not verify: %s", f.name, verifyReason(err))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(a.nonce)) != 1 {
		return nil, refused(nil, "the ID token from provider %q is not for this sign-in attempt (nonce mismatch)", f.name)
	}
	var claims oidcClaims
	if err := idt.Claims(&claims); err != nil {
		return nil, refused(err, "the ID token from provider %q has malformed claims", f.name)
	}
	if claims.Email == "" {
		// Many providers put the email in userinfo only.
		info, err := f.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err == nil && info.Subject == idt.Subject {
			var uc oidcClaims
			if err := info.Claims(&uc); err == nil {
				claims.Email, claims.EmailVerified = uc.Email, uc.EmailVerified
				if claims.Name == "" {
					claims.Name = uc.Name
				}
				if claims.PreferredUsername == "" {
					claims.PreferredUsername = uc.PreferredUsername
				}
			}
		} else if err != nil {
			f.m.log.WarnContext(ctx, "oauth: userinfo", "provider", f.name, "err", err)
		}
	}
	name := claims.PreferredUsername
	if name == "" {
		name = claims.Name
	}
	return &Identity{Provider: f.name, Subject: idt.Subject, Email: claims.Email, EmailVerified: bool(claims.EmailVerified), Name: name}, nil
}

type oidcClaims struct {
	Email             string   `json:"email"`
	EmailVerified     flexBool `json:"email_verified"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
}

// flexBool reads true and "true": some providers send email_verified as
// a string.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	v, err := strconv.ParseBool(s)
	if err != nil {
		*b = false
		return nil
	}
	*b = flexBool(v)
	return nil
}

// verifyReason words go-oidc's refusal without its internals.
func verifyReason(err error) string {
	var exp *oidc.TokenExpiredError
	switch {
	case errors.As(err, &exp):
		return "it expired"
	case strings.Contains(err.Error(), "audience"):
		return "it was issued to another client (audience)"
	case strings.Contains(err.Error(), "issuer"):
		return "it was issued by another issuer"
	case strings.Contains(err.Error(), "signature"):
		return "its signature is not the provider's"
	}
	return "it is malformed"
}

// exchangeError words a failed code exchange: the provider's refusal of
// the code, or no answer.
func exchangeError(name string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" {
			code = strconv.Itoa(re.Response.StatusCode)
		}
		return refused(err, "provider %q refused the code (%s): it may have been used already, have expired, or belong to another attempt", name, code)
	}
	return unavailable(err, "provider %q: token endpoint", name)
}

// githubFlow is GitHub: OAuth 2.0, then the user from its REST API.
type githubFlow struct {
	m    *Module
	name string
	p    Provider
}

func (f *githubFlow) endpoint() oauth2.Endpoint {
	ep := oauth2.Endpoint{AuthURL: f.p.AuthURL, TokenURL: f.p.TokenURL, AuthStyle: oauth2.AuthStyleInParams}
	if ep.AuthURL == "" {
		ep.AuthURL = GitHubAuthURL
	}
	if ep.TokenURL == "" {
		ep.TokenURL = GitHubTokenURL
	}
	return ep
}

func (f *githubFlow) scopes() []string {
	if len(f.p.Scopes) > 0 {
		return f.p.Scopes
	}
	return []string{"read:user", "user:email"}
}

func (f *githubFlow) authURL(a attempt, state string) string {
	c := f.m.oauth2Config(f.p, f.endpoint(), a.redirectURL, f.scopes())
	return c.AuthCodeURL(state, oauth2.S256ChallengeOption(a.verifier))
}

func (f *githubFlow) exchange(ctx context.Context, a attempt, code string) (*Identity, error) {
	ctx = f.m.httpContext(ctx)
	c := f.m.oauth2Config(f.p, f.endpoint(), a.redirectURL, f.scopes())
	tok, err := c.Exchange(ctx, code, oauth2.VerifierOption(a.verifier))
	if err != nil {
		return nil, exchangeError(f.name, err)
	}
	var user struct {
		ID    int64  `json:"id"`
		Login string `json:"login"`
		Email string `json:"email"`
	}
	if err := f.get(ctx, tok, "/user", &user); err != nil {
		return nil, err
	}
	if user.ID <= 0 {
		return nil, unavailable(nil, "provider %q: /user answered no id", f.name)
	}
	id := &Identity{Provider: f.name, Subject: strconv.FormatInt(user.ID, 10), Name: user.Login}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := f.get(ctx, tok, "/user/emails", &emails); err != nil {
		return nil, err
	}
	// The primary email; else the first verified one.
	for _, e := range emails {
		if e.Primary {
			id.Email, id.EmailVerified = e.Email, e.Verified
			break
		}
	}
	if id.Email == "" || !id.EmailVerified {
		for _, e := range emails {
			if e.Verified {
				id.Email, id.EmailVerified = e.Email, true
				break
			}
		}
	}
	return id, nil
}

func (f *githubFlow) get(ctx context.Context, tok *oauth2.Token, path string, dst any) error {
	base := f.p.APIURL
	if base == "" {
		base = GitHubAPIURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+path, nil)
	if err != nil {
		return unavailable(err, "provider %q: %s", f.name, path)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := f.m.client.Do(req)
	if err != nil {
		return unavailable(err, "provider %q: %s", f.name, path)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return unavailable(err, "provider %q: %s", f.name, path)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return refused(nil, "provider %q refused the access token at %s (%d)", f.name, path, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return unavailable(fmt.Errorf("status %d", resp.StatusCode), "provider %q: %s", f.name, path)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return unavailable(err, "provider %q: %s answered no JSON", f.name, path)
	}
	return nil
}

// now is Options.Now or the wall clock.
func (m *Module) now() time.Time {
	if m.opts.Now != nil {
		return m.opts.Now()
	}
	return time.Now()
}
