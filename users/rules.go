package users

import (
	"errors"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/quote"
)

// The rules of who may change what, beside root's protections, which each
// operation states where it applies them.

// checkDeclared refuses permission names the host has not declared.
func (m *Module) checkDeclared(perms map[string]bool) error {
	if name, ok := m.perms.Undeclared(perms); ok {
		return refuse(ErrInvalid, "permission %s is not declared", quote.Short(name))
	}
	return nil
}

// checkGrant refuses a change of a user's declared permissions from old to
// next that the actor may not make (auth.CheckChange): a grant or a revoke
// of a permission it does not hold, or a grant made with an API token. A
// leaked token could otherwise mint a successor: a user of its making,
// holding what the token holds, whose session outlives the token's
// revocation. Revoking stays open to tokens; sessions grant.
func (a Actor) checkGrant(old, next map[string]bool) error {
	var ge *auth.GrantError
	if !errors.As(auth.CheckChange(a.by, old, next), &ge) {
		return nil
	}
	switch {
	case ge.ByToken:
		return refuse(ErrForbidden, "an API token cannot grant permissions (here %q): sign in with a password and use the session", ge.Permission)
	case ge.Revoke:
		return refuse(ErrForbidden, "you may not revoke permission %q: you do not hold it", ge.Permission)
	}
	return refuse(ErrForbidden, "you may not grant permission %q: you do not hold it", ge.Permission)
}

// checkTokenCredentials refuses a change of credentials (what names a
// user at sign-in, proves it, or receives its password reset mail: the
// password, the user name, the email) made with an API token to the
// token's own user or to root. Such a change would trade the token for a
// password, and with it a session: one that outlives the token's
// revocation and locks the owner out. what names the credential.
//
// Root's tokens are not root here either: they meet the first case.
// Other users' credentials stay within a token's reach, as its permissions
// allow (checkTakeover): what it could gain is no more than it holds.
func (a Actor) checkTokenCredentials(targetID int64, what string) error {
	if a.by.Kind != auth.KindAPIToken {
		return nil
	}
	switch targetID {
	case a.by.UserID:
		return refuse(ErrForbidden, "an API token cannot change the %s of its own user: sign in with a password and use the session", what)
	case auth.RootUserID:
		return refuse(ErrForbidden, "an API token cannot change root's %s", what)
	}
	return nil
}

// checkTakeover refuses to let the actor set the password of a user who
// holds a permission the actor lacks: signing in as that user would be a
// way to gain it. It is the general form of "only root sets root's
// password". A call made with an API token never sets its own user's or
// root's password (see checkTokenCredentials), nor that of a user holding
// a permission new users are not given: signing in as them would be a
// successor that outlives the token (see checkGrant).
func (a Actor) checkTakeover(target *userRow) error {
	if err := a.checkTokenCredentials(target.ID, "password"); err != nil {
		return err
	}
	perms := a.m.perms
	if a.by.Kind == auth.KindAPIToken && target.ID != auth.RootUserID {
		defaults := perms.Defaults()
		for _, p := range perms.List() {
			if target.Permissions[p.Name] && !defaults[p.Name] {
				return refuse(ErrForbidden, "an API token cannot set the password of user %q, who holds permission %q: sign in with a password and use the session", target.Name, p.Name)
			}
		}
	}
	if target.ID == auth.RootUserID {
		if !a.by.IsRoot() {
			return refuse(ErrForbidden, "only root may set root's password")
		}
		return nil
	}
	for name, on := range target.Permissions {
		if _, declared := perms.Lookup(name); declared && on && !a.by.Has(name) {
			return refuse(ErrForbidden, "you may not set the password of user %q: they hold permission %q, which you do not", target.Name, name)
		}
	}
	return nil
}

// declaredOnly returns the declared permissions a stored map holds.
func (m *Module) declaredOnly(stored map[string]bool) map[string]bool {
	return m.perms.Apply(stored, nil, false)
}
