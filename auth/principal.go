package auth

import (
	"context"
	"time"
)

// RootUserID is the id of the root user, who holds every permission.
const RootUserID int64 = 1

// RootUsername is the name of the root user.
const RootUsername = "root"

// Kind names what a caller authenticated with. It is also the readable prefix
// of a token of that kind (see NewToken).
type Kind string

const (
	KindNone         Kind = ""    // a guest: no token, or one that did not authenticate
	KindSession      Kind = "ses" // a session opened by signing in
	KindAPIToken     Kind = "tok" // a long-lived API access token
	KindConfirmEmail Kind = "cnf" // an email confirmation token; never authenticates a call
	KindResetPass    Kind = "rst" // a password reset token; never authenticates a call
	KindSecondFactor Kind = "sfa" // a sign-in waiting for its second factor; never authenticates a call
)

// Principal is the caller of a method: who it is and what it may do.
// A nil *Principal is a guest; methods on it are safe to call.
type Principal struct {
	UserID   int64
	Username string

	// Kind and TokenID say which session or API token the call came with.
	Kind    Kind
	TokenID int64

	// Permissions are the caller's effective permissions. For an API token they
	// are the user's intersected with the token's own.
	Permissions map[string]bool

	// ExpiresAt, when set, is when the credential stops being valid; caches
	// must not keep the principal beyond it.
	ExpiresAt time.Time

	// AuthorizedAt, when set, is when the caller last proved again who it
	// is for its session (the users module's /v1/session/authorize): the
	// registry lets it call methods that require a recent authorization
	// for rpc.Options.AuthorizedMaxAge after. Never set for an API token.
	AuthorizedAt time.Time

	// Confined, when set, holds the caller to the methods it lists: the
	// registry answers any other 403 with its Message and
	// error.data.meta[Flag] true. The users module confines the sessions
	// of a user who must enrol a second factor before anything else
	// (users.Options.RequireFactorFor).
	Confined *Confinement
}

// Confinement is what a confined caller may call (Principal.Confined).
type Confinement struct {
	Methods map[string]bool // method ids
	Message string          // why the others are refused, and what to do
	Flag    string          // the meta flag of the refusal, such as "second_factor_required"
}

// Authenticated reports whether the caller is a signed-in user rather than a guest.
func (p *Principal) Authenticated() bool { return p != nil && p.UserID != 0 }

// IsRoot reports whether the caller is the root user.
func (p *Principal) IsRoot() bool { return p != nil && p.UserID == RootUserID }

// Has reports whether the caller holds the named permission. Root holds all of them.
func (p *Principal) Has(permission string) bool {
	if !p.Authenticated() {
		return false
	}
	if p.IsRoot() && p.Kind != KindAPIToken {
		return true
	}
	return p.Permissions[permission]
}

// Allowed reports whether the caller passes a method's permission tags (any of them):
// Anyone, Guest, User, Root or a declared permission name.
func (p *Principal) Allowed(tags []string) bool {
	for _, tag := range tags {
		switch tag {
		case Anyone:
			return true
		case Guest:
			if !p.Authenticated() {
				return true
			}
		case User:
			if p.Authenticated() {
				return true
			}
		case Root:
			// Root's API tokens hold only what they were given, and the root
			// tag is not something a token can be given.
			if p.IsRoot() && p.Kind != KindAPIToken {
				return true
			}
		default:
			if p.Has(tag) {
				return true
			}
		}
	}
	return false
}

type principalKey struct{}

// NewContext returns a copy of ctx that carries p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller carried by ctx, or nil (a guest).
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
