package users

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

func (m *Module) registerProfile() {
	mod := m.reg.Section("/v1/profile", "User profile")
	user := []string{auth.User}
	mod.Register(rpc.Method{
		ID: "read", Title: "Read user profile", Description: "Answers the caller's own user record.", Permissions: user,
		Handler: m.profileRead,
	})
	mod.Register(rpc.Method{
		ID: "set-email", Title: "Set user email", Description: "Sets the caller's email address, which is then unconfirmed, or clears it when none is given. Not with an API token.", Permissions: user,
		Params: []rpc.Param{{
			Name:        "email?",
			Description: "Email address to set, if not specified, current email address will be removed.",
		}},
		Handler: m.profileSetEmail,
	})
	mod.Register(rpc.Method{
		ID: "set-telegram-username", Title: "Set user telegram name", Description: "Sets the caller's telegram user name, or clears it when none is given.", Permissions: user,
		Params: []rpc.Param{{
			Name:        "telegram_username?",
			Description: "Telegram username to set, if not specified current telegram user name will be removed.",
		}},
		Handler: m.profileSetTelegram,
	})
}

// profileRead answers the caller's own user record.
func (m *Module) profileRead(ctx context.Context) (record, error) {
	p := auth.FromContext(ctx)
	row, err := m.findByID(ctx, m.db, p.UserID, false)
	if err != nil {
		return record{}, err
	}
	if row == nil {
		return record{}, rpc.NotFound("user %q not found", p.Username)
	}
	return m.record(row), nil
}

// profileSetEmail sets the caller's email (unconfirmed), or clears it when
// none (or an empty one) is given. The same address again changes nothing
// and keeps it confirmed. A call made with an API token is refused: the
// email is where a password reset link goes, so setting it would trade the
// token for the password.
func (m *Module) profileSetEmail(ctx context.Context, email *string) (rpc.Result, error) {
	caller := auth.FromContext(ctx)
	if rerr := checkTokenCredentials(caller, caller.UserID, "email"); rerr != nil {
		return rpc.Result{}, rerr
	}
	next := ""
	if email != nil && *email != "" {
		var ok bool
		if next, ok = normalizeEmail(*email); !ok {
			return rpc.Result{}, badEmail(*email)
		}
	}
	changed, err := m.modifyProfile(ctx, caller.UserID, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		if row.Email == next {
			return false, nil
		}
		if next != "" {
			field, err := m.taken(ctx, tx, row.ID, "", next, "")
			if err != nil {
				return false, err
			}
			if rerr := takenError(field, "", next, ""); rerr != nil {
				return false, rerr
			}
		}
		row.Email, row.EmailConfirmed = next, false
		_, err := tx.NewUpdate().Model(row).ModelTableExpr(m.tables.users).Column("email", "email_confirmed").WherePK().Exec(ctx)
		if err != nil {
			return false, fmt.Errorf("users: set email: %w", err)
		}
		return true, nil
	})
	return changedResult(changed), err
}

// profileSetTelegram sets or clears the caller's telegram name.
func (m *Module) profileSetTelegram(ctx context.Context, name *string) (rpc.Result, error) {
	next := ""
	if name != nil && *name != "" {
		var ok bool
		if next, ok = normalizeTelegram(*name); !ok {
			return rpc.Result{}, badTelegram(*name)
		}
	}
	changed, err := m.modifyProfile(ctx, auth.FromContext(ctx).UserID, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		if row.TelegramName == next {
			return false, nil
		}
		if next != "" {
			field, err := m.taken(ctx, tx, row.ID, "", "", next)
			if err != nil {
				return false, err
			}
			if rerr := takenError(field, "", "", next); rerr != nil {
				return false, rerr
			}
		}
		row.TelegramName = next
		_, err := tx.NewUpdate().Model(row).ModelTableExpr(m.tables.users).Column("telegram_name").WherePK().Exec(ctx)
		if err != nil {
			return false, fmt.Errorf("users: set telegram name: %w", err)
		}
		return true, nil
	})
	return changedResult(changed), err
}
