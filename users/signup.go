package users

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/authrpc/authrpc/auth"
)

// SignUp is what a guest signs up with.
type SignUp struct {
	Username string
	// Password must pass the hasher's rules, unless NoPassword: then the
	// user has none, and signs in once one is set (by an administrator,
	// or through a password reset by mail).
	Password   string
	NoPassword bool
	// Email and TelegramName are optional.
	Email        string
	TelegramName string
	// Addr is the client's address (rpc.Call.ClientAddr): the sign-up limit
	// and the hashing queue key on it.
	Addr string
}

// SignUp creates an enabled user holding the default permissions, as
// /v1/session/signup does, and runs OnSignup's hooks. It is refused with
// ErrLimited past Options.SignupLimit, with ErrForbidden while
// Options.SignupEnabled says no, and with one ErrConflict whichever of the
// name, email or telegram name is taken (see signupTaken).
func (m *Module) SignUp(ctx context.Context, in SignUp) (*User, error) {
	if err := limit(ctx, m.signupLim, auth.AddrKey(in.Addr), "too many sign-ups from your address: try again later"); err != nil {
		return nil, err
	}
	if err := m.checkSignupOpen(ctx); err != nil {
		return nil, err
	}
	var password *string
	if !in.NoPassword {
		password = &in.Password
	}
	nu, err := m.newUserFields(in.Username, password, in.Email, in.TelegramName)
	if err != nil {
		return nil, err
	}
	nu.enabled = true
	nu.permissions = m.perms.Defaults()
	nu.noPassword = in.NoPassword
	ctx = auth.WithHashClaim(ctx, auth.HashClaim{Key: auth.AddrKey(in.Addr), Priority: auth.HashPriorityNormal})
	row, err := m.insertUser(ctx, nu, nil, "users.signup")
	if errors.Is(err, ErrConflict) {
		return nil, signupTaken(nu)
	}
	if err != nil {
		return nil, err
	}
	m.hooks.run(ctx, &m.hooks.signup, row)
	return row.user(), nil
}

// checkSignupOpen refuses a signup while Options.SignupEnabled says no, or
// is nil.
func (m *Module) checkSignupOpen(ctx context.Context) error {
	if m.signupOpen == nil {
		return refuse(ErrForbidden, "signup is disabled")
	}
	open, err := m.signupOpen(ctx)
	if err != nil {
		return fmt.Errorf("users: signup: is signup enabled: %w", err)
	}
	if !open {
		return refuse(ErrForbidden, "signup is disabled")
	}
	return nil
}

// signupTaken refuses a signup whose name, email or telegram name another
// user has, alike whichever it is: naming it would tell anybody whether an
// email address has an account here. It names the fields given.
func signupTaken(nu *newUser) *Error {
	fields := []string{"user name"}
	if nu.email != "" {
		fields = append(fields, "email")
	}
	if nu.telegram != "" {
		fields = append(fields, "telegram name")
	}
	list := fields[0]
	if n := len(fields); n > 1 {
		list = strings.Join(fields[:n-1], ", ") + " or " + fields[n-1]
	}
	return refuse(ErrConflict, "the %s is already taken", list)
}
