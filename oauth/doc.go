// Package oauth signs users in through OAuth providers: any OpenID Connect
// issuer, found by discovery (github.com/coreos/go-oidc), and GitHub, whose
// OAuth apps are OAuth 2.0 (golang.org/x/oauth2) with the user and email
// endpoints of its REST API.
//
// It is the code flow and nothing of users: Mount registers
// /v1/session/oauth-url, which answers a provider's authorization URL, and
// /v1/session/get-oauth-providers; Module.Exchange turns what the provider
// sends the browser back with into an Identity (provider, subject, email
// and whether the provider verified it). The users module takes it from
// there (users.Options.OAuth): session/signin and session/signup with
// {oauth_provider, oauth_code, oauth_redirect_url, oauth_state}, and the
// identities linked to users.
//
// Every attempt carries a random state, a PKCE challenge (S256) and, for
// OpenID Connect, a nonce. It is stored by the state's digest in the table
// authrpc_oauth_attempts (after Options.TablePrefix), so that any instance
// completes what another began, and deleted as it is completed: a state,
// and the code bound to it by PKCE, work once, within Options.AttemptTTL.
// The redirect URL must be one of Config.RedirectURLs, exactly, when the
// URL is made and when the code is exchanged, and the attempt's own. An ID
// token's signature (the issuer's published keys), issuer, audience (the
// client id), expiry (by Options.Now) and nonce are checked.
//
// Providers are configured in Go (Options.Config) or in the settings
// module (Options.Source = settingsModule.OAuth: oauth_providers,
// oauth_redirect_urls, oauth_link_verified_email, the client secrets
// encrypted with the settings keyring and never answered by read), or
// both. A provider's name is what the API calls oauth_provider.
//
// Refusals are *Error with a Reason: ErrInvalid (400: an unknown
// provider, a redirect URL not allowed, a field missing), ErrRefused (401:
// a state unknown, used or expired, a code the provider refused, an ID
// token that fails a check) or ErrUnavailable (the provider could not be
// reached; an opaque 500, the cause logged).
//
// Package oauthtest runs a real OpenID Provider and a stand-in for GitHub
// in process, for tests.
package oauth
