package users

import (
	"context"
	"fmt"
	"strconv"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/storage"
)

// newUser is a validated user to insert.
type newUser struct {
	name, email, telegram string
	password              string // plain; empty with noPassword
	noPassword            bool   // store no hash: nobody can sign in until one is set
	enabled               bool
	permissions           map[string]bool
}

// newUserFields validates and normalizes the fields Create and SignUp
// share. An empty email or telegram name means none; a password, when
// given (not nil), must pass the hasher's rules.
func (m *Module) newUserFields(username string, password *string, email, telegram string) (*newUser, error) {
	nu := &newUser{}
	var ok bool
	if nu.name, ok = normalizeUsername(username); !ok {
		return nil, badUsername(username)
	}
	if email != "" {
		if nu.email, ok = normalizeEmail(email); !ok {
			return nil, badEmail(email)
		}
	}
	if telegram != "" {
		if nu.telegram, ok = normalizeTelegram(telegram); !ok {
			return nil, badTelegram(telegram)
		}
	}
	if password != nil {
		if err := m.checkPassword(*password); err != nil {
			return nil, err
		}
		nu.password = *password
	}
	return nu, nil
}

// insertUser hashes the password (outside the transaction: it is slow, and
// SQLite's write lock would be held meanwhile) and inserts the user,
// refusing with ErrConflict when the name, email or telegram name is
// taken.
func (m *Module) insertUser(ctx context.Context, nu *newUser, by *auth.Principal, action string) (*userRow, error) {
	row := &userRow{
		Name:         nu.name,
		Email:        nu.email,
		TelegramName: nu.telegram,
		Enabled:      nu.enabled,
		Permissions:  nu.permissions,
		Created:      m.stamp(),
	}
	if row.Permissions == nil {
		row.Permissions = map[string]bool{}
	}
	if !nu.noPassword {
		// ctx carries the caller's claim on the hashing queue (hashCtx).
		hash, err := m.hasher.Hash(ctx, nu.password)
		if err != nil {
			return nil, fmt.Errorf("users: hash password: %w", err)
		}
		row.PasswordHash = hash
	}
	err := m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		field, err := m.taken(ctx, tx, 0, row.Name, row.Email, row.TelegramName)
		if err != nil {
			return err
		}
		if err := takenError(field, row.Name, row.Email, row.TelegramName); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(row).ModelTableExpr(m.tables.users).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("users: insert user: %w", err)
		}
		return m.audited(ctx, tx, by, storage.AuditEntry{
			Action: action, Target: strconv.FormatInt(row.ID, 10), Changes: createdFields(row, !nu.noPassword),
		})
	})
	if err != nil {
		return nil, txError(err)
	}
	return row, nil
}

// takenError refuses with ErrConflict for the field taken reports, or
// returns nil.
func takenError(field, name, email, telegram string) error {
	switch field {
	case "name":
		return refuse(ErrConflict, "user name %q is taken", name)
	case "email":
		return refuse(ErrConflict, "email %q is taken", email)
	case "telegram_name":
		return refuse(ErrConflict, "telegram name %q is taken", telegram)
	}
	return nil
}
