package users

import (
	"context"
	"fmt"
	"strconv"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/storage"
)

// Redeeming the one-time tokens mailed in links (links.go): each is
// checked by its shape first, looked up by digest, and used up in the
// transaction that acts on it (onetime.go), so that of two uses only one
// acts.

// ConfirmEmail marks the email a confirmation token (from the link
// SendConfirmationEmail mailed) was sent to as confirmed, if the user
// still has it, and uses the token up, as
// /v1/session/confirm-email-by-token does. A token that cannot be used is
// refused with ErrInvalidToken, alike whatever the reason.
func (m *Module) ConfirmEmail(ctx context.Context, token string) error {
	if kind, ok := auth.TokenKind(token); !ok || kind != auth.KindConfirmEmail {
		return badToken() // garbage costs no query
	}
	var confirmed int64 // the user whose email this confirmed
	err := m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		t, err := m.tables.consumeToken(ctx, tx, token, auth.KindConfirmEmail, m.now())
		if err != nil {
			return err
		}
		if t == nil {
			return badToken()
		}
		row, err := m.findByID(ctx, tx, t.UserID, true)
		if err != nil {
			return err
		}
		switch {
		case row == nil || !row.Enabled:
			return badToken()
		case row.Email != t.Email:
			return refuse(ErrInvalidToken, "the email address has changed since this link was sent: ask for a new one")
		case row.EmailConfirmed:
			return nil
		}
		_, err = tx.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).Set("email_confirmed = ?", true).Where("id = ?", row.ID).Exec(ctx)
		if err != nil {
			return fmt.Errorf("users: confirm email of user %d: %w", row.ID, err)
		}
		confirmed = row.ID
		return nil
	})
	if err != nil {
		return txError(err)
	}
	if confirmed != 0 { // what is known of the user changed: see userCache
		m.reg.Auth().Invalidate(auth.Invalidation{UserID: confirmed, Refresh: true})
	}
	return nil
}

// ResetPassword sets the password of the user a reset token (from the
// link SendPasswordResetEmail mailed) was sent to, uses the token up, ends
// all their sessions and the credentials other modules hold for them (API
// tokens; see OnCredentialsReset) and, since the mail reached them,
// confirms their email if it is still the one the mail went to, as
// /v1/session/set-password-by-token does. The password is checked before
// the token, so that a bad one does not use it up; a token that cannot be
// used is refused with ErrInvalidToken, alike whatever the reason.
func (m *Module) ResetPassword(ctx context.Context, token, password string) error {
	if kind, ok := auth.TokenKind(token); !ok || kind != auth.KindResetPass {
		return badToken()
	}
	// The password's rules first, so that a bad password does not use up
	// the token.
	if err := m.checkPassword(password); err != nil {
		return err
	}
	// Look before hashing, so that unknown tokens cost no argon2 work.
	t, err := m.tables.findToken(ctx, m.db, token, auth.KindResetPass, m.now())
	if err != nil {
		return err
	}
	if t == nil {
		return badToken()
	}
	// The token proves the mailbox: this caller is genuine.
	hash, err := m.hasher.Hash(hashCtx(ctx, auth.HashPriorityHigh), password)
	if err != nil {
		return fmt.Errorf("users: set password by token: hash: %w", err)
	}
	var id int64
	var stored *userRow
	err = m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		t, err := m.tables.consumeToken(ctx, tx, token, auth.KindResetPass, m.now())
		if err != nil {
			return err
		}
		if t == nil { // used meanwhile, or expired
			return badToken()
		}
		row, err := m.findByID(ctx, tx, t.UserID, true)
		if err != nil {
			return err
		}
		if row == nil || !row.Enabled || row.ID == auth.RootUserID {
			return badToken()
		}
		confirmed := row.EmailConfirmed || (row.Email != "" && row.Email == t.Email)
		_, err = tx.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).
			Set("password_hash = ?", hash).
			Set("email_confirmed = ?", confirmed).
			Where("id = ?", row.ID).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("users: set password by token: user %d: %w", row.ID, err)
		}
		if _, err := m.tables.deleteSessions(ctx, tx, row.ID, 0); err != nil {
			return err
		}
		if err := m.credentialsReset(ctx, tx, CredentialsReset{UserID: row.ID, ByMail: true}); err != nil {
			return err
		}
		id, stored = row.ID, row
		return m.audited(ctx, tx, nil, storage.AuditEntry{
			Action: "users.reset-password", Target: strconv.FormatInt(row.ID, 10), Changes: map[string]any{"password": true},
		})
	})
	if err != nil {
		return txError(err)
	}
	m.invalidateUser(id)
	m.notifyPasswordChanged(stored)
	return nil
}
