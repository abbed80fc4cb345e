package users

import (
	"context"
	"time"

	"github.com/authrpc/authrpc/auth"
)

// User is a user record as the host and other modules see it. Optional
// fields are empty when unset.
type User struct {
	ID             int64
	Name           string
	Email          string
	EmailConfirmed bool
	TelegramName   string
	Enabled        bool
	// Permissions are as stored: the names set to true, possibly including
	// names no longer declared. See Module.Permissions for what they mean.
	Permissions map[string]bool
	Created     time.Time
}

// IsRoot reports whether u is the root user.
func (u *User) IsRoot() bool { return u.ID == auth.RootUserID }

// NewUser is what Create stores. The zero value of each optional field is
// the API's default.
type NewUser struct {
	// Username is normalized as the API does: lower-cased; 3 to 32 of
	// [a-z0-9_.@-], not all digits, or an email address.
	Username string
	// Password, when empty, is generated and returned by Create.
	Password string
	// Email and TelegramName are optional.
	Email        string
	TelegramName string
	// Disabled creates the user disabled: it cannot sign in until enabled.
	Disabled bool
	// Permissions overlay the declared defaults; every name must be declared.
	Permissions map[string]bool
}

// Lookup returns the user with the given id, or ErrNotFound.
func (m *Module) Lookup(ctx context.Context, id int64) (*User, error) {
	row, err := m.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return row.user(), nil
}

// FindByName returns the user with the given name (normalized as the API
// does, so "Alice" finds "alice"), or ErrNotFound.
func (m *Module) FindByName(ctx context.Context, name string) (*User, error) {
	norm, ok := normalizeUsername(name)
	if !ok {
		return found(nil, nil, name)
	}
	row, err := m.findByName(ctx, m.db, norm, false)
	return found(row, err, name)
}

// FindByEmail returns the user with the given email (normalized as the API
// does), or ErrNotFound.
func (m *Module) FindByEmail(ctx context.Context, email string) (*User, error) {
	norm, ok := normalizeEmail(email)
	if !ok {
		return found(nil, nil, email)
	}
	row, err := m.findByEmail(ctx, m.db, norm, false)
	return found(row, err, email)
}

func found(row *userRow, err error, what string) (*User, error) {
	switch {
	case err != nil:
		return nil, err
	case row == nil:
		return nil, refuse(ErrNotFound, "user %q not found", what)
	}
	return row.user(), nil
}

// Permissions returns u's effective permissions: the declared ones u holds,
// each set to true. Root holds every declared permission.
func (m *Module) Permissions(u *User) map[string]bool {
	if u.IsRoot() {
		return m.perms.All()
	}
	out := make(map[string]bool, len(u.Permissions))
	for name, on := range u.Permissions {
		if _, declared := m.perms.Lookup(name); declared && on {
			out[name] = true
		}
	}
	return out
}

// load returns the user row with the given id, or refuses with ErrNotFound.
func (m *Module) load(ctx context.Context, id int64) (*userRow, error) {
	row, err := m.findByID(ctx, m.db, id, false)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, notFound(id)
	}
	return row, nil
}
