package users

import (
	"context"
	"fmt"
	"io"

	"github.com/authrpc/authrpc/auth"
)

// ensureRoot creates the root user (id 1, name root) unless it exists. Two
// processes starting at once both try the insert; ON CONFLICT DO NOTHING
// lets one win, and only the winner prints a generated password.
func (m *Module) ensureRoot(ctx context.Context, password string, out io.Writer) error {
	row, err := m.findByID(ctx, m.db, auth.RootUserID, false)
	if err != nil {
		return err
	}
	if row != nil {
		return m.checkRoot(row)
	}

	generated := password == ""
	if generated {
		password = auth.GeneratePassword()
	} else if err := m.checkPassword(password); err != nil {
		return fmt.Errorf("root password: %s", err.Message)
	}
	hash, err := m.hasher.Hash(ctx, password)
	if err != nil {
		return fmt.Errorf("hash root password: %w", err)
	}
	root := &userRow{
		ID:           auth.RootUserID,
		Name:         auth.RootUsername,
		Enabled:      true,
		Permissions:  map[string]bool{},
		PasswordHash: hash,
		Created:      m.stamp(),
	}
	res, err := m.db.NewInsert().Model(root).ModelTableExpr(m.tables.users).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return fmt.Errorf("create root: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Another process created it meanwhile (or a user took the name).
		row, err := m.findByID(ctx, m.db, auth.RootUserID, false)
		if err != nil {
			return err
		}
		if row == nil {
			return fmt.Errorf("create root: user name %q is taken by another user", auth.RootUsername)
		}
		return m.checkRoot(row)
	}
	m.log.InfoContext(ctx, "users: created the root user")
	if generated {
		_, err := fmt.Fprintf(out, "users: created the root user %q with the password %s\n"+
			"users: it is shown only this once: keep it safe, or change it after signing in\n",
			auth.RootUsername, password)
		if err != nil {
			return fmt.Errorf("print root password: %w", err)
		}
	}
	return nil
}

func (m *Module) checkRoot(row *userRow) error {
	if row.Name != auth.RootUsername {
		return fmt.Errorf("user %d is named %q, not %q: the users table was changed by hand", auth.RootUserID, row.Name, auth.RootUsername)
	}
	return nil
}
