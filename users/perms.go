package users

import (
	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// permissionState is one entry of get-permissions: a declared permission and
// whether the user holds it. A list rather than a map because a UI renders
// it as labelled checkboxes: it needs the title and description, and a stable
// order (by name).
//
// The fields are those @softvisio/core front ends read: id is the
// permission and name its title (their permissions dialog submits the
// ids); title repeats it under the
// name our clients read.
type permissionState struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
	// Grantable says whether the caller may change it (holds it).
	Grantable bool `json:"grantable"`
}

// holds reports whether the stored row holds a permission; root holds all.
func holds(row *userRow, name string) bool {
	return row.ID == auth.RootUserID || row.Permissions[name]
}

// permissionsView lists every declared permission with whether the user
// holds it, as clients see a user's permissions.
func (m *Module) permissionsView(row *userRow) map[string]bool {
	list := m.perms.List()
	out := make(map[string]bool, len(list))
	for _, p := range list {
		out[p.Name] = holds(row, p.Name)
	}
	return out
}

func (m *Module) permissionStates(caller *auth.Principal, row *userRow) []permissionState {
	list := m.perms.List()
	out := make([]permissionState, len(list))
	for i, p := range list {
		out[i] = permissionState{
			ID: p.Name, Name: p.Title, Title: p.Title, Description: p.Description,
			Enabled: holds(row, p.Name), Grantable: caller.Has(p.Name),
		}
	}
	return out
}

// callerView lists every declared permission with whether the caller holds
// it: for an API token, the token's effective permissions.
func (m *Module) callerView(p *auth.Principal) map[string]bool {
	list := m.perms.List()
	out := make(map[string]bool, len(list))
	for _, d := range list {
		out[d.Name] = p.Has(d.Name)
	}
	return out
}

// checkDeclared refuses permission names the host has not declared.
func (m *Module) checkDeclared(perms map[string]bool) *rpc.Error {
	if name, ok := m.perms.Undeclared(perms); ok {
		return rpc.BadRequest("permission %s is not declared", rpc.Quote(name))
	}
	return nil
}

// checkGrants enforces that a caller changes (grants or revokes) only
// permissions it holds itself, comparing a user's declared permissions
// before and after.
func (m *Module) checkGrants(caller *auth.Principal, old, next map[string]bool) *rpc.Error {
	for _, p := range m.perms.List() {
		if old[p.Name] != next[p.Name] && !caller.Has(p.Name) {
			verb := "grant"
			if old[p.Name] {
				verb = "revoke"
			}
			return rpc.Forbidden("you may not %s permission %q: you do not hold it", verb, p.Name)
		}
	}
	return nil
}

// checkTokenGrants refuses a grant made with an API token: a permission a
// user did not hold before (old; the defaults for a new user) and would
// after (next). A leaked token could otherwise mint a successor: a user of
// its making, holding what the token holds, whose session outlives the
// token's revocation. Revoking stays open to tokens; sessions grant.
func (m *Module) checkTokenGrants(caller *auth.Principal, old, next map[string]bool) *rpc.Error {
	if caller.Kind != auth.KindAPIToken {
		return nil
	}
	for _, p := range m.perms.List() { // in name order, for a stable message
		if next[p.Name] && !old[p.Name] {
			return rpc.Forbidden("an API token cannot grant permissions (here %q): sign in with a password and use the session", p.Name)
		}
	}
	return nil
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
func checkTokenCredentials(caller *auth.Principal, targetID int64, what string) *rpc.Error {
	if caller.Kind != auth.KindAPIToken {
		return nil
	}
	switch targetID {
	case caller.UserID:
		return rpc.Forbidden("an API token cannot change the %s of its own user: sign in with a password and use the session", what)
	case auth.RootUserID:
		return rpc.Forbidden("an API token cannot change root's %s", what)
	}
	return nil
}

// checkTakeover refuses to let a caller set the password of a user who holds
// a permission the caller lacks: signing in as that user would be a way to
// gain it. It is the general form of "only root sets root's password". A
// call made with an API token never sets its own user's or root's password
// (see checkTokenCredentials), nor that of a user holding a permission new
// users are not given: signing in as them would be a successor that
// outlives the token (see checkTokenGrants).
func (m *Module) checkTakeover(caller *auth.Principal, target *userRow) *rpc.Error {
	if rerr := checkTokenCredentials(caller, target.ID, "password"); rerr != nil {
		return rerr
	}
	if caller.Kind == auth.KindAPIToken && target.ID != auth.RootUserID {
		defaults := m.perms.Defaults()
		for _, p := range m.perms.List() {
			if target.Permissions[p.Name] && !defaults[p.Name] {
				return rpc.Forbidden("an API token cannot set the password of user %q, who holds permission %q: sign in with a password and use the session", target.Name, p.Name)
			}
		}
	}
	if target.ID == auth.RootUserID {
		if !caller.IsRoot() {
			return rpc.Forbidden("only root may set root's password")
		}
		return nil
	}
	for name, on := range target.Permissions {
		if _, declared := m.perms.Lookup(name); declared && on && !caller.Has(name) {
			return rpc.Forbidden("you may not set the password of user %q: they hold permission %q, which you do not", target.Name, name)
		}
	}
	return nil
}

// declaredOnly returns the declared permissions a stored map holds.
func (m *Module) declaredOnly(stored map[string]bool) map[string]bool {
	return m.perms.Apply(stored, nil, false)
}
