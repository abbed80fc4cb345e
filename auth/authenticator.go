package auth

import (
	"context"
	"errors"
)

// ErrUnknownToken is returned by an Authenticator for a token that is
// malformed, unknown, expired or disabled. The caller then counts as a guest.
var ErrUnknownToken = errors.New("auth: unknown token")

// Authenticator resolves a bearer token to the caller it stands for.
// The users module implements it for sessions, the tokens module for API tokens.
//
// Authenticate returns ErrUnknownToken (possibly wrapped) when the token does
// not authenticate anyone; any other error means the answer is unknown (the
// database is away, say) and the call fails with an internal error.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*Principal, error)
}

// AuthenticatorFunc adapts a function to the Authenticator interface.
type AuthenticatorFunc func(ctx context.Context, token string) (*Principal, error)

// Authenticate calls f(ctx, token).
func (f AuthenticatorFunc) Authenticate(ctx context.Context, token string) (*Principal, error) {
	return f(ctx, token)
}
