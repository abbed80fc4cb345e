package tokens

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/users"
)

// permissionState is one entry of get-permissions, as users answers it for
// a user, plus whether the token's owner holds the permission: the token
// may use it only when both are true, and a UI can grey out the rest.
//
// id is the permission and name its title, as @softvisio/core front ends
// read them (their permissions dialog submits the ids); title repeats the
// title.
type permissionState struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// Enabled is the token's own grant.
	Enabled bool `json:"enabled"`
	// UserEnabled says whether the owner holds it (root holds all).
	UserEnabled bool `json:"user_enabled"`
	// Grantable says whether the caller may give it: the owner holds it.
	Grantable bool `json:"grantable"`
}

// grantsView lists every declared permission with whether a token's own
// grants hold it.
func (m *Module) grantsView(grants map[string]bool) map[string]bool {
	list := m.perms.List()
	out := make(map[string]bool, len(list))
	for _, p := range list {
		out[p.Name] = grants[p.Name]
	}
	return out
}

// effective is what a token may do: the owner's effective permissions (see
// users.Module.Permissions: declared ones only) that the token was given.
func effective(owner, grants map[string]bool) map[string]bool {
	out := make(map[string]bool, len(grants))
	for name, on := range grants {
		if on && owner[name] {
			out[name] = true
		}
	}
	return out
}

// ownerPermissions returns the caller's effective permissions as a user,
// read afresh: for a call made with an API token, the principal holds the
// token's, not the user's.
func (m *Module) ownerPermissions(ctx context.Context, caller *auth.Principal) (map[string]bool, error) {
	u, err := m.users.Lookup(ctx, caller.UserID)
	if errors.Is(err, users.ErrNotFound) {
		// Deleted since it authenticated.
		return nil, rpc.Unauthorized("Not authenticated")
	}
	if err != nil {
		return nil, fmt.Errorf("tokens: look up user %d: %w", caller.UserID, err)
	}
	return m.users.Permissions(u), nil
}

func (m *Module) getPermissions(ctx context.Context, tokenID string) ([]permissionState, error) {
	caller := auth.FromContext(ctx)
	id, rerr := parseID(tokenID)
	if rerr != nil {
		return nil, rerr
	}
	row, err := m.find(ctx, m.db, caller.UserID, id, false)
	if err != nil {
		return nil, err
	}
	owner, err := m.ownerPermissions(ctx, caller)
	if err != nil {
		return nil, err
	}
	list := m.perms.List()
	out := make([]permissionState, len(list))
	for i, p := range list {
		out[i] = permissionState{
			ID: p.Name, Name: p.Title, Title: p.Title, Description: p.Description,
			Enabled:     row.Permissions[p.Name],
			UserEnabled: owner[p.Name],
			Grantable:   owner[p.Name],
		}
	}
	return out, nil
}

// checkDeclared refuses permission names the host has not declared.
func (m *Module) checkDeclared(perms map[string]bool) *rpc.Error {
	if name, ok := m.perms.Undeclared(perms); ok {
		return rpc.BadRequest("permission %s is not declared", rpc.Quote(name))
	}
	return nil
}

// changePermissions replaces (set-permissions) or merges
// (update-permissions) a token's own grants; 204 when nothing changed. A
// new grant must be a permission the owner holds (400 otherwise); revoking
// is always allowed. A grant the owner has since lost is kept as it is: it
// gives nothing while the owner lacks the permission.
func (m *Module) changePermissions(ctx context.Context, tokenID string, change map[string]bool, replace bool) (rpc.Result, error) {
	caller := auth.FromContext(ctx)
	id, rerr := parseID(tokenID)
	if rerr != nil {
		return rpc.Result{}, rerr
	}
	if rerr := m.checkSession(ctx, caller, "tokens.set-permissions", id); rerr != nil {
		return rpc.Result{}, rerr
	}
	if rerr := m.checkDeclared(change); rerr != nil {
		return rpc.Result{}, rerr
	}
	owner, err := m.ownerPermissions(ctx, caller)
	if err != nil {
		return rpc.Result{}, err
	}
	changed := false
	err = m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		row, err := m.find(ctx, tx, caller.UserID, id, true)
		if err != nil {
			return err
		}
		old := m.perms.Apply(row.Permissions, nil, false)
		next := m.perms.Apply(row.Permissions, change, replace)
		if maps.Equal(old, next) {
			return nil
		}
		// The owner as it is now (the principal's permissions may be a
		// cached call's); requireSession has refused calls made with a token.
		held := &auth.Principal{UserID: caller.UserID, Permissions: owner}
		var refused *auth.GrantError
		if errors.As(auth.CheckGrant(held, old, next), &refused) {
			return errGrant{rpc.BadRequest("permission %q cannot be given to the token: you do not hold it", refused.Permission)}
		}
		// Keep grants of names no longer declared, as users does: a host that
		// declares a permission only in some deployments should not lose them.
		stored := maps.Clone(next)
		for name, on := range row.Permissions {
			if _, declared := m.perms.Lookup(name); !declared && on {
				stored[name] = true
			}
		}
		_, err = tx.NewUpdate().Model(&tokenRow{ID: row.ID, Permissions: stored}).ModelTableExpr(m.table).Column("permissions").WherePK().Exec(ctx)
		if err != nil {
			return fmt.Errorf("tokens: set permissions of token %d: %w", id, err)
		}
		changed = true
		return m.audited(ctx, tx, "tokens.set-permissions", id, map[string]any{"permissions": permissionChanges(old, next)})
	})
	var rpcErr *rpc.Error
	var grant errGrant
	switch {
	case errors.As(err, &grant):
		return rpc.Result{}, m.recordRefusal(ctx, "tokens.set-permissions", id, grant.refusal)
	case errors.As(err, &rpcErr):
		return rpc.Result{}, rpcErr
	case err != nil:
		return rpc.Result{}, err
	case !changed:
		return rpc.NoContent(), nil
	}
	m.invalidate(id)
	return rpc.Result{}, nil
}
