package users

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// The methods in this file let the host manage users from Go. They act
// with root's authority, as the host's own code, but keep every rule the
// API keeps: usernames, emails and password length are validated the same
// way; root cannot be renamed, deleted, disabled or given other
// permissions; a new password or a disabled user ends the user's sessions
// (and API tokens, through OnCredentialsReset) and drops the user's cached
// callers on every instance. Their errors are the API's: an *rpc.Error with
// the code the method would answer (400 or -32808 for a bad value, 403 for
// root's protections, 409 for a taken name or email, 429 when the hashing
// queue is full), or ErrNotFound for a user that does not exist.

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

// hostCaller is who the Go surface acts as: root, through no session, so
// that root's grants apply and no session of root's is kept on a reset.
func hostCaller(ctx context.Context) context.Context {
	return auth.NewContext(ctx, &auth.Principal{UserID: auth.RootUserID, Username: "root", Kind: auth.KindSession})
}

// Create adds a user, as /v1/admin/users/create does. It returns the user
// and, when nu.Password was empty, the password it generated (else "").
func (m *Module) Create(ctx context.Context, nu NewUser) (*User, string, error) {
	f := createFields{Username: nu.Username, Permissions: nu.Permissions}
	if nu.Password != "" {
		f.Password = &nu.Password
	}
	if nu.Email != "" {
		f.Email = &nu.Email
	}
	if nu.TelegramName != "" {
		f.TelegramName = &nu.TelegramName
	}
	enabled := !nu.Disabled
	f.Enabled = &enabled
	rec, err := m.create(hostCaller(ctx), f)
	if err != nil {
		return nil, "", busy(err)
	}
	u, err := m.Lookup(ctx, rec.ID)
	if err != nil {
		return nil, "", err
	}
	return u, rec.Password, nil
}

// FindByName returns the user with the given name (normalized as the API
// does, so "Alice" finds "alice"), or ErrNotFound.
func (m *Module) FindByName(ctx context.Context, name string) (*User, error) {
	norm, ok := normalizeUsername(name)
	if !ok {
		return nil, ErrNotFound
	}
	row, err := m.findByName(ctx, m.db, norm, false)
	return found(row, err)
}

// FindByEmail returns the user with the given email (normalized as the API
// does), or ErrNotFound.
func (m *Module) FindByEmail(ctx context.Context, email string) (*User, error) {
	norm, ok := normalizeEmail(email)
	if !ok {
		return nil, ErrNotFound
	}
	row, err := m.findByEmail(ctx, m.db, norm, false)
	return found(row, err)
}

func found(row *userRow, err error) (*User, error) {
	switch {
	case err != nil:
		return nil, err
	case row == nil:
		return nil, ErrNotFound
	}
	return row.user(), nil
}

// SetPassword sets a user's password after checking its length, ends the
// user's sessions and what OnCredentialsReset ends (API tokens, unless
// Options.KeepTokensOnAdminSetPassword), and voids the reset links mailed
// before, as /v1/admin/users/set-password does. Root's password may be set.
func (m *Module) SetPassword(ctx context.Context, id int64, password string) error {
	_, err := m.setPassword(hostCaller(ctx), idRef(id), &password)
	return goError(err)
}

// SetEnabled enables or disables a user; disabling ends its sessions and
// API tokens. Root cannot be disabled (nor "enabled": its flag is fixed).
func (m *Module) SetEnabled(ctx context.Context, id int64, enabled bool) error {
	_, err := m.setEnabled(hostCaller(ctx), idRef(id), enabled)
	return goError(err)
}

// SetPermissions replaces a user's declared permissions with perms (names
// left out are revoked), as /v1/admin/users/set-permissions does; every
// name must be declared, and root's permissions cannot be changed.
func (m *Module) SetPermissions(ctx context.Context, id int64, perms map[string]bool) error {
	_, err := m.changePermissions(hostCaller(ctx), idRef(id), perms, true)
	return goError(err)
}

// Delete removes a user with its sessions and API tokens; root cannot be
// deleted.
func (m *Module) Delete(ctx context.Context, id int64) error {
	return goError(m.delete(hostCaller(ctx), idRef(id)))
}

func idRef(id int64) string { return strconv.FormatInt(id, 10) }

// goError turns the API's 404 into ErrNotFound, for callers that branch on it.
func goError(err error) error {
	var e *rpc.Error
	if errors.As(err, &e) && e.Code == rpc.CodeNotFound {
		return ErrNotFound
	}
	return busy(err)
}

// UserFunc is a hook: it runs after the change it is named for committed,
// on the call's goroutine, with the call's context. It cannot undo the
// change; refuse calls with rpc call middleware instead.
type UserFunc func(ctx context.Context, u *User)

// userHooks are the UserFuncs the host added.
type userHooks struct {
	mu                       sync.Mutex
	signup, signin, deletion []UserFunc
}

// OnSignup adds fn to what runs after /v1/session/signup created a user
// (users created by Create or /v1/admin/users/create are not sign-ups).
func (m *Module) OnSignup(fn UserFunc) { m.hooks.add(&m.hooks.signup, fn) }

// OnSignin adds fn to what runs after /v1/session/signin opened a session.
func (m *Module) OnSignin(fn UserFunc) { m.hooks.add(&m.hooks.signin, fn) }

// OnDelete adds fn to what runs after a user was deleted, through the API
// or Delete; u is the user as it was.
func (m *Module) OnDelete(fn UserFunc) { m.hooks.add(&m.hooks.deletion, fn) }

func (h *userHooks) add(list *[]UserFunc, fn UserFunc) {
	h.mu.Lock()
	*list = append(*list, fn)
	h.mu.Unlock()
}

func (h *userHooks) run(ctx context.Context, list *[]UserFunc, row *userRow) {
	h.mu.Lock()
	fns := *list
	h.mu.Unlock()
	for _, fn := range fns {
		fn(ctx, row.user())
	}
}
