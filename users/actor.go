package users

import (
	"context"

	"github.com/authrpc/authrpc/auth"
)

// Actor is the module's operations as one caller performs them. Where a
// rule depends on who acts, it is the actor's principal that counts:
// nobody deletes or disables themselves or changes their own permissions;
// only root sets root's password; a caller grants or revokes only
// permissions it holds (auth.CheckChange) and sets no password of a user
// who holds one it lacks; a call made with an API token grants nothing
// and changes no credentials of its own user or of root. Administering
// users takes Options.AdminPermission; a user changes its own profile
// without it.
//
// The methods are adapters over these operations: each passes its caller,
// auth.FromContext(ctx), to As. A host's own methods may do the same.
type Actor struct {
	m  *Module
	by *auth.Principal
}

// As returns the operations as p performs them; nil is a guest, who may do
// none of them.
func (m *Module) As(p *auth.Principal) Actor {
	if p == nil {
		p = &auth.Principal{} // a guest, whose fields the rules may read
	}
	return Actor{m: m, by: p}
}

// host is who the host's own code acts as (the Module's methods of the
// same names): root, through no session, so that root's grants apply and
// no session of root's is kept when root's password is set.
func (m *Module) host() Actor {
	return m.As(&auth.Principal{UserID: auth.RootUserID, Username: auth.RootUsername, Kind: auth.KindSession})
}

// administer refuses an actor who does not hold the permission that
// administering users takes. The methods check it as their tag first;
// this keeps the operations safe for a host's own methods.
func (a Actor) administer() error {
	if a.by.Has(a.m.adminPerm) {
		return nil
	}
	return refuse(ErrForbidden, "administering users takes permission %q", a.m.adminPerm)
}

// administerOrSelf is administer for a change a user may make to itself.
func (a Actor) administerOrSelf(id int64) error {
	if a.by.Authenticated() && a.by.UserID == id {
		return nil
	}
	return a.administer()
}

// hashCtx returns ctx with the actor's claim on the hashing queue for
// setting a password: keyed by the client's address, ahead when signed in.
func (a Actor) hashCtx(ctx context.Context) context.Context {
	if a.by.Authenticated() {
		return hashCtx(ctx, auth.HashPriorityHigh)
	}
	return hashCtx(ctx, auth.HashPriorityNormal)
}
