package oauth

import (
	"context"
	"errors"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// URL is what oauth-url answers.
type URL struct {
	URL string `json:"url"`
}

func (m *Module) register(reg *rpc.Registry) {
	var limit *rpc.RateLimit
	switch l := m.opts.URLLimit; {
	case l.Burst < 0:
	case l == rpc.RateLimit{}:
		limit = &DefaultURLLimit
	default:
		limit = &l
	}
	s := reg.Section("/v1/session", "Session")
	s.Register(rpc.Method{
		ID:    "oauth-url",
		Title: "OAuth authorization URL",
		Description: "Answers `{url}`, the URL of the provider's sign-in page to send the browser to. It carries a new `state`, a PKCE challenge and, " +
			"for OpenID Connect, a `nonce`, bound to this attempt for 10 minutes by default. The provider sends the browser back to " +
			"`oauth_redirect_url`, which must be one of the host's `oauth_redirect_urls` exactly, with `code` and `state`: pass them to " +
			"`/v1/session/signin` (or `signup`) as `{oauth_provider, oauth_code, oauth_redirect_url, oauth_state}`. 400 names an unknown " +
			"provider or a redirect URL not allowed.",
		Permissions: []string{auth.Anyone},
		Params: []rpc.Param{
			{Name: "oauth_provider", Description: "The provider's name, as get-oauth-providers lists it."},
			{Name: "oauth_redirect_url", Description: "Where the provider sends the browser back to: one of the allowed redirect URLs."},
		},
		Handler: func(ctx context.Context, provider, redirectURL string) (URL, error) {
			u, err := m.AuthURL(ctx, provider, redirectURL)
			if err != nil {
				return URL{}, RPCError(err)
			}
			return URL{URL: u}, nil
		},
		NoVoid:    true,
		RateLimit: limit,
	})
	s.Register(rpc.Method{
		ID:          "get-oauth-providers",
		Title:       "OAuth providers",
		Description: "Answers the configured OAuth providers as rows `{name, type}` (`type` is `oidc` or `github`), in the order of their names: what a sign-in page offers.",
		Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) ([]ProviderInfo, error) {
			return m.Providers(ctx)
		},
	})
}

// RPCError answers a refusal of the flow as the methods do: ErrInvalid
// 400, ErrRefused 401, each with its message; anything else as it came
// (an opaque 500).
func RPCError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		switch e.Reason {
		case ErrInvalid:
			return rpc.BadRequest("%s", e.Message)
		case ErrRefused:
			return rpc.Unauthorized("%s", e.Message)
		}
	}
	return err
}
