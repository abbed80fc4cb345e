package users

import (
	"context"
	"fmt"
	"maps"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
)

// Administering users: the operations behind /v1/admin/users, on ids.
// Each exported one takes the permission of administering users; the
// methods, whose tag has checked it, call the unexported ones with the row
// they resolved.

// Create adds a user and returns it with the password it generated when
// nu.Password was empty (else ""). Permissions start from the declared
// defaults, overlaid with nu's; the actor grants (or withholds a default)
// only what it holds, and with an API token nothing beyond the defaults.
func (a Actor) Create(ctx context.Context, nu NewUser) (*User, string, error) {
	if err := a.administer(); err != nil {
		return nil, "", err
	}
	row, generated, err := a.create(ctx, nu, nu.Password == "")
	if err != nil {
		return nil, "", err
	}
	return row.user(), generated, nil
}

// create is Create; with generate, nu.Password is ignored and a password
// generated, else nu.Password is checked as given.
func (a Actor) create(ctx context.Context, nu NewUser, generate bool) (_ *userRow, _ string, err error) {
	defer a.recordRefusal(ctx, "users.create", 0, &err)
	var password *string
	if !generate {
		password = &nu.Password
	}
	fields, err := a.m.newUserFields(nu.Username, password, nu.Email, nu.TelegramName)
	if err != nil {
		return nil, "", err
	}
	if err := a.m.checkDeclared(nu.Permissions); err != nil {
		return nil, "", err
	}
	defaults := a.m.perms.Defaults()
	fields.permissions = a.m.perms.Apply(defaults, nu.Permissions, false)
	if err := a.checkGrant(defaults, fields.permissions); err != nil {
		return nil, "", err
	}
	fields.enabled = !nu.Disabled
	generated := ""
	if generate {
		generated = auth.GeneratePassword()
		fields.password = generated
	}
	row, err := a.m.insertUser(a.hashCtx(ctx), fields, a.by, "users.create")
	if err != nil {
		return nil, "", err
	}
	return row, generated, nil
}

// Delete removes a user with its sessions, its mailed links and (by the
// foreign keys of other modules) its API tokens. Nobody deletes root or
// themselves.
func (a Actor) Delete(ctx context.Context, id int64) error {
	if err := a.administer(); err != nil {
		return err
	}
	return a.delete(ctx, id)
}

func (a Actor) delete(ctx context.Context, id int64) (err error) {
	defer a.recordRefusal(ctx, "users.delete", id, &err)
	m := a.m
	var deleted *userRow
	_, err = m.modify(ctx, id, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		switch {
		case row.ID == auth.RootUserID:
			return false, refuse(ErrForbidden, "the root user cannot be deleted")
		case row.ID == a.by.UserID:
			return false, refuse(ErrForbidden, "you cannot delete yourself")
		}
		// The foreign key cascades too; deleting here does not rely on it
		// being enforced (SQLite needs foreign_keys on).
		if _, err := m.tables.deleteSessions(ctx, tx, row.ID, 0); err != nil {
			return false, err
		}
		if err := m.tables.deleteTokens(ctx, tx, row.ID); err != nil {
			return false, err
		}
		if _, err := tx.NewDelete().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).Where("id = ?", row.ID).Exec(ctx); err != nil {
			return false, fmt.Errorf("users: delete user %d: %w", row.ID, err)
		}
		deleted = row
		return true, a.record(ctx, tx, "users.delete", row.ID, map[string]any{"name": row.Name})
	})
	if err != nil {
		return err
	}
	m.hooks.run(ctx, &m.hooks.deletion, deleted)
	return nil
}

// SetEnabled enables or disables a user and reports whether that changed
// anything. Disabling ends the user's sessions and voids the links mailed
// to them, so that enabling again does not revive them; the user's API
// tokens stop authenticating while it is disabled. Nobody changes root's
// flag or disables themselves.
func (a Actor) SetEnabled(ctx context.Context, id int64, enabled bool) (bool, error) {
	if err := a.administer(); err != nil {
		return false, err
	}
	return a.setEnabled(ctx, id, enabled)
}

func (a Actor) setEnabled(ctx context.Context, id int64, enabled bool) (_ bool, err error) {
	action := "users.disable"
	if enabled {
		action = "users.enable"
	}
	defer a.recordRefusal(ctx, action, id, &err)
	m := a.m
	return m.modify(ctx, id, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		switch {
		case row.ID == auth.RootUserID:
			return false, refuse(ErrForbidden, "the root user cannot be disabled or enabled")
		case row.ID == a.by.UserID && !enabled:
			return false, refuse(ErrForbidden, "you cannot disable yourself")
		case row.Enabled == enabled:
			return false, nil
		}
		_, err := tx.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).Set("enabled = ?", enabled).Where("id = ?", row.ID).Exec(ctx)
		if err != nil {
			return false, fmt.Errorf("users: set enabled: %w", err)
		}
		if !enabled {
			if _, err := m.tables.deleteSessions(ctx, tx, row.ID, 0); err != nil {
				return false, err
			}
			if err := m.tables.deleteTokens(ctx, tx, row.ID); err != nil {
				return false, err
			}
		}
		return true, a.record(ctx, tx, action, row.ID, map[string]any{"enabled": enabled})
	})
}

// SetPassword sets a user's password after checking it. It ends the user's
// sessions (but the actor's own, when it sets its own password), voids the
// password reset links mailed before and ends what OnCredentialsReset ends
// (API tokens, unless Options.KeepTokensOnAdminSetPassword). Only root
// sets root's password, nobody a password of a user holding a permission
// the actor lacks, and a call made with an API token neither its own
// user's nor root's.
func (a Actor) SetPassword(ctx context.Context, id int64, password string) error {
	if err := a.administer(); err != nil {
		return err
	}
	row, err := a.m.load(ctx, id)
	if err != nil {
		return err
	}
	return a.setPassword(ctx, row, password)
}

func (a Actor) setPassword(ctx context.Context, target *userRow, password string) (err error) {
	defer a.recordRefusal(ctx, "users.set-password", target.ID, &err)
	m := a.m
	if err := a.checkTakeover(target); err != nil {
		return err
	}
	if err := m.checkPassword(password); err != nil {
		return err
	}
	hash, err := m.hasher.Hash(a.hashCtx(ctx), password)
	if err != nil {
		return fmt.Errorf("users: set password: hash: %w", err)
	}
	var stored *userRow
	_, err = m.modify(ctx, target.ID, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		if err := a.checkTakeover(row); err != nil { // again, under the lock
			return false, err
		}
		stored = row
		if err := a.storePassword(ctx, tx, row.ID, hash); err != nil {
			return false, err
		}
		return true, a.record(ctx, tx, "users.set-password", row.ID, map[string]any{"password": true})
	})
	if err == nil {
		m.notifyPasswordChanged(stored)
	}
	return err
}

// storePassword stores a new hash and ends the user's sessions, but the
// actor's own current one, and the credentials other modules hold for the
// user (API tokens; see OnCredentialsReset and
// Options.KeepTokensOnAdminSetPassword): a password set by an
// administrator is how an account is recovered. It voids the password
// reset links mailed before: they were asked for to replace the password
// this one replaces.
func (a Actor) storePassword(ctx context.Context, tx bun.Tx, id int64, hash string) error {
	m := a.m
	_, err := tx.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).Set("password_hash = ?", hash).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("users: set password: %w", err)
	}
	if err := m.tables.deleteTokens(ctx, tx, id, auth.KindResetPass); err != nil {
		return err
	}
	var keep int64
	if a.by.UserID == id && a.by.Kind == auth.KindSession {
		keep = a.by.TokenID
	}
	if _, err := m.tables.deleteSessions(ctx, tx, id, keep); err != nil {
		return err
	}
	return m.credentialsReset(ctx, tx, CredentialsReset{UserID: id})
}

// SetPermissions replaces a user's declared permissions with perms (names
// left out are revoked) and reports whether that changed anything.
// UpdatePermissions changes only the names perms holds. Every name must be
// declared; nobody changes root's or their own permissions; the actor
// grants and revokes only what it holds, and with an API token grants
// nothing. Grants of names no longer declared are kept.
func (a Actor) SetPermissions(ctx context.Context, id int64, perms map[string]bool) (bool, error) {
	if err := a.administer(); err != nil {
		return false, err
	}
	return a.changePermissions(ctx, id, perms, true)
}

// UpdatePermissions merges perms into a user's permissions: see
// SetPermissions.
func (a Actor) UpdatePermissions(ctx context.Context, id int64, perms map[string]bool) (bool, error) {
	if err := a.administer(); err != nil {
		return false, err
	}
	return a.changePermissions(ctx, id, perms, false)
}

func (a Actor) changePermissions(ctx context.Context, id int64, change map[string]bool, replace bool) (_ bool, err error) {
	defer a.recordRefusal(ctx, "users.set-permissions", id, &err)
	m := a.m
	if err := m.checkDeclared(change); err != nil {
		return false, err
	}
	return m.modify(ctx, id, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		switch {
		case row.ID == auth.RootUserID:
			return false, refuse(ErrForbidden, "the root user's permissions cannot be changed")
		case row.ID == a.by.UserID:
			return false, refuse(ErrForbidden, "you cannot change your own permissions")
		}
		old := m.declaredOnly(row.Permissions)
		next := m.perms.Apply(row.Permissions, change, replace)
		if maps.Equal(old, next) {
			return false, nil
		}
		if err := a.checkGrant(old, next); err != nil {
			return false, err
		}
		// Keep grants of names no longer declared: a host that declares a
		// permission only in some deployments should not lose them.
		stored := maps.Clone(next)
		for name, on := range row.Permissions {
			if _, declared := m.perms.Lookup(name); !declared && on {
				stored[name] = true
			}
		}
		_, err := tx.NewUpdate().Model(&userRow{ID: row.ID, Permissions: stored}).ModelTableExpr(m.tables.users).Column("permissions").WherePK().Exec(ctx)
		if err != nil {
			return false, fmt.Errorf("users: set permissions: %w", err)
		}
		return true, a.record(ctx, tx, "users.set-permissions", row.ID, map[string]any{"permissions": permissionChanges(old, next)})
	})
}

// Rename gives a user a new name and reports whether that changed
// anything. Nobody renames root, and a call made with an API token does
// not rename its own user: the name is what signs in.
func (a Actor) Rename(ctx context.Context, id int64, name string) (bool, error) {
	return a.renameByID(ctx, id, name, nil)
}

// RenameWithPassword is Rename that also sets the password, as SetPassword
// does, in the same transaction.
func (a Actor) RenameWithPassword(ctx context.Context, id int64, name, password string) (bool, error) {
	return a.renameByID(ctx, id, name, &password)
}

func (a Actor) renameByID(ctx context.Context, id int64, name string, password *string) (bool, error) {
	if err := a.administer(); err != nil {
		return false, err
	}
	row, err := a.m.load(ctx, id)
	if err != nil {
		return false, err
	}
	return a.rename(ctx, row, name, password)
}

// rename renames target and, when password is not nil, sets it.
func (a Actor) rename(ctx context.Context, target *userRow, newName string, password *string) (_ bool, err error) {
	defer a.recordRefusal(ctx, "users.rename", target.ID, &err)
	m := a.m
	if target.ID == auth.RootUserID {
		return false, refuse(ErrForbidden, "the root user's name cannot be changed")
	}
	what := "user name"
	if password != nil {
		what = "user name or password"
	}
	if err := a.checkTokenCredentials(target.ID, what); err != nil {
		return false, err
	}
	name, ok := normalizeUsername(newName)
	if !ok {
		return false, badUsername(newName)
	}
	hash := ""
	if password != nil {
		if err := a.checkTakeover(target); err != nil {
			return false, err
		}
		if err := m.checkPassword(*password); err != nil {
			return false, err
		}
		var err error
		if hash, err = m.hasher.Hash(a.hashCtx(ctx), *password); err != nil {
			return false, fmt.Errorf("users: set username: hash: %w", err)
		}
	}
	var stored *userRow
	changed, err := m.modify(ctx, target.ID, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		changed := false
		changes := map[string]any{}
		if row.Name != name {
			field, err := m.taken(ctx, tx, row.ID, name, "", "")
			if err != nil {
				return false, err
			}
			if err := takenError(field, name, "", ""); err != nil {
				return false, err
			}
			if _, err := tx.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).Set("name = ?", name).Where("id = ?", row.ID).Exec(ctx); err != nil {
				return false, fmt.Errorf("users: set username: %w", err)
			}
			changed, changes["name"], changes["old_name"] = true, name, row.Name
		}
		if hash != "" {
			if err := a.checkTakeover(row); err != nil {
				return false, err
			}
			if err := a.storePassword(ctx, tx, row.ID, hash); err != nil {
				return false, err
			}
			stored = row
			changed, changes["password"] = true, true
		}
		if !changed {
			return false, nil
		}
		return true, a.record(ctx, tx, "users.rename", row.ID, changes)
	})
	if err == nil && stored != nil {
		stored.Name = name
		m.notifyPasswordChanged(stored)
	}
	return changed, err
}
