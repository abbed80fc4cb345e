package rpc

import (
	"context"
	"errors"

	"github.com/authrpc/authrpc/auth"
)

// caller returns the principal a call runs as, and ctx carrying it. The
// rule, in order:
//
//  1. A bearer token that one of the mux's authenticators takes decides:
//     its principal, or a guest when the token is malformed, unknown,
//     expired or disabled.
//  2. Otherwise (no bearer token, or one no authenticator takes, such as
//     a token the host's own middleware checked) the principal the host's
//     middleware put in the request's context with auth.NewContext, if any.
//  3. Otherwise a guest.
//
// The handler sees the same principal the permission check did. An error
// means the answer is unknown (an authenticator failed) and the call fails.
func (r *Registry) caller(ctx context.Context, token string) (context.Context, *auth.Principal, error) {
	p, err := r.auth.Authenticate(ctx, token)
	switch {
	case err == nil && p != nil:
		return auth.NewContext(ctx, p), p, nil
	case err == nil, errors.Is(err, auth.ErrNoAuthenticator):
		return ctx, auth.FromContext(ctx), nil
	case errors.Is(err, auth.ErrUnknownToken):
		if auth.FromContext(ctx) != nil {
			ctx = auth.NewContext(ctx, nil) // the token's answer wins: a guest
		}
		return ctx, nil, nil
	}
	return ctx, nil, err
}
