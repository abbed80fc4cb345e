package users

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// CredentialsReset says whose password was just replaced, and how.
type CredentialsReset struct {
	UserID int64
	// ByMail is true for /v1/session/set-password-by-token, false for an
	// administrator's set-password or set-username with a new password.
	ByMail bool
}

// CredentialsResetFunc ends the credentials a module holds for a user whose
// password was reset. It runs in the transaction tx that stores the new
// password, with the user's row locked; an error rolls the reset back and
// fails the call.
type CredentialsResetFunc func(ctx context.Context, tx bun.Tx, r CredentialsReset) error

// OnCredentialsReset adds fn to what a password reset runs, so that a
// module holding credentials of its own for users (the tokens module: API
// tokens) ends them when an account is recovered. The users module ends
// the user's sessions itself.
//
// fn runs in the transaction that stores the new password, so the password
// and the credentials change together or not at all. After it commits the
// module drops every cached caller of the user (auth.Invalidation by user
// id, shared with every instance through the registry's auth.Mux), of
// sessions and tokens alike, so the next call anywhere sees the change.
//
// A reset by mail always runs fn; an administrator's set-password does
// unless Options.KeepTokensOnAdminSetPassword is set. Add hooks when
// mounting, before serving calls; each instance adds its own, so mount the
// same modules on every instance.
func (m *Module) OnCredentialsReset(fn CredentialsResetFunc) {
	m.resets.add(fn)
}

// credentialsReset runs the hooks for r in tx, unless an administrator's
// set-password is to keep them.
func (m *Module) credentialsReset(ctx context.Context, tx bun.Tx, r CredentialsReset) error {
	if !r.ByMail && m.keepTokensOnAdminSetPassword {
		return nil
	}
	for _, fn := range m.resets.all() {
		if err := fn(ctx, tx, r); err != nil {
			return fmt.Errorf("users: end credentials of user %d: %w", r.UserID, err)
		}
	}
	return nil
}
