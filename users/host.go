package users

import (
	"context"
)

// The methods in this file let the host manage users from Go. They act
// as root, the host's own code, through no session (see Actor for acting
// as a caller), and keep every rule the API keeps: usernames, emails and
// password length are validated the same way; root cannot be renamed,
// deleted, disabled or given other permissions; a new password or a
// disabled user ends the user's sessions (and API tokens, through
// OnCredentialsReset) and drops the user's cached callers on every
// instance. A refusal is an *Error whose Reason says why (ErrInvalid,
// ErrForbidden, ErrConflict, ErrNotFound…); a full hashing queue is
// auth.ErrBusy.

// Create adds a user, as /v1/admin/users/create does. It returns the user
// and, when nu.Password was empty, the password it generated (else "").
func (m *Module) Create(ctx context.Context, nu NewUser) (*User, string, error) {
	return m.host().Create(ctx, nu)
}

// Delete removes a user with its sessions and API tokens; root cannot be
// deleted.
func (m *Module) Delete(ctx context.Context, id int64) error {
	return m.host().Delete(ctx, id)
}

// SetEnabled enables or disables a user; disabling ends its sessions and
// API tokens. Root cannot be disabled (nor "enabled": its flag is fixed).
func (m *Module) SetEnabled(ctx context.Context, id int64, enabled bool) error {
	_, err := m.host().SetEnabled(ctx, id, enabled)
	return err
}

// SetPassword sets a user's password after checking its length, ends the
// user's sessions and what OnCredentialsReset ends (API tokens, unless
// Options.KeepTokensOnAdminSetPassword), and voids the reset links mailed
// before, as /v1/admin/users/set-password does. Root's password may be set.
func (m *Module) SetPassword(ctx context.Context, id int64, password string) error {
	return m.host().SetPassword(ctx, id, password)
}

// SetPermissions replaces a user's declared permissions with perms (names
// left out are revoked), as /v1/admin/users/set-permissions does; every
// name must be declared, and root's permissions cannot be changed.
func (m *Module) SetPermissions(ctx context.Context, id int64, perms map[string]bool) error {
	_, err := m.host().SetPermissions(ctx, id, perms)
	return err
}

// UpdatePermissions changes only the permissions perms names, as
// /v1/admin/users/update-permissions does.
func (m *Module) UpdatePermissions(ctx context.Context, id int64, perms map[string]bool) error {
	_, err := m.host().UpdatePermissions(ctx, id, perms)
	return err
}

// Rename gives a user a new name, as /v1/admin/users/set-username does;
// root cannot be renamed.
func (m *Module) Rename(ctx context.Context, id int64, name string) error {
	_, err := m.host().Rename(ctx, id, name)
	return err
}

// SetEmail sets a user's email, unconfirmed, or clears it when email is
// empty; the user's sessions go on.
func (m *Module) SetEmail(ctx context.Context, id int64, email string) error {
	_, err := m.host().SetEmail(ctx, id, email)
	return err
}

// SetTelegramName sets a user's telegram name, or clears it when name is
// empty.
func (m *Module) SetTelegramName(ctx context.Context, id int64, name string) error {
	_, err := m.host().SetTelegramName(ctx, id, name)
	return err
}
