package users

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
)

// A user's contact fields: the operations behind /v1/profile's setters. A
// user changes its own; changing another's takes the permission of
// administering users. Neither ends the user's sessions or closes its
// sockets: the credentials stay as valid as they were.

// SetEmail sets a user's email (unconfirmed), or clears it when email is
// empty, and reports whether that changed anything. The same address again
// changes nothing and keeps it confirmed. A call made with an API token is
// refused for its own user and root: the email is where a password reset
// link goes, so setting it would trade the token for the password.
func (a Actor) SetEmail(ctx context.Context, id int64, email string) (_ bool, err error) {
	if err := a.administerOrSelf(id); err != nil {
		return false, err
	}
	defer a.recordRefusal(ctx, "users.set-email", id, &err)
	if err := a.checkTokenCredentials(id, "email"); err != nil {
		return false, err
	}
	next := ""
	if email != "" {
		var ok bool
		if next, ok = normalizeEmail(email); !ok {
			return false, badEmail(email)
		}
	}
	m := a.m
	var name, old string
	changed, err := m.modifyProfile(ctx, id, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		if row.Email == next {
			return false, nil
		}
		name, old = row.Name, row.Email
		if next != "" {
			field, err := m.taken(ctx, tx, row.ID, "", next, "")
			if err != nil {
				return false, err
			}
			if err := takenError(field, "", next, ""); err != nil {
				return false, err
			}
		}
		row.Email, row.EmailConfirmed = next, false
		_, err := tx.NewUpdate().Model(row).ModelTableExpr(m.tables.users).Column("email", "email_confirmed").WherePK().Exec(ctx)
		if err != nil {
			return false, fmt.Errorf("users: set email: %w", err)
		}
		return true, a.record(ctx, tx, "users.set-email", row.ID, map[string]any{"email": nullable(next)})
	})
	if changed {
		m.notifyEmailChanged(name, old, next)
	}
	return changed, err
}

// SetTelegramName sets a user's telegram name, or clears it when name is
// empty, and reports whether that changed anything. It signs nobody in, so
// an API token may set it.
func (a Actor) SetTelegramName(ctx context.Context, id int64, name string) (bool, error) {
	if err := a.administerOrSelf(id); err != nil {
		return false, err
	}
	next := ""
	if name != "" {
		var ok bool
		if next, ok = normalizeTelegram(name); !ok {
			return false, badTelegram(name)
		}
	}
	m := a.m
	return m.modifyProfile(ctx, id, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		if row.TelegramName == next {
			return false, nil
		}
		if next != "" {
			field, err := m.taken(ctx, tx, row.ID, "", "", next)
			if err != nil {
				return false, err
			}
			if err := takenError(field, "", "", next); err != nil {
				return false, err
			}
		}
		row.TelegramName = next
		_, err := tx.NewUpdate().Model(row).ModelTableExpr(m.tables.users).Column("telegram_name").WherePK().Exec(ctx)
		if err != nil {
			return false, fmt.Errorf("users: set telegram name: %w", err)
		}
		return true, a.record(ctx, tx, "users.set-telegram-name", row.ID, map[string]any{"telegram_name": nullable(next)})
	})
}
