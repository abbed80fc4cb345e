package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
)

// tokenRow is a row of user_tokens: a one-time token sent by mail, an email
// confirmation (auth.KindConfirmEmail) or a password reset
// (auth.KindResetPass) token. Only its digest is stored.
type tokenRow struct {
	bun.BaseModel `bun:"table:user_tokens,alias:ut"`

	ID     int64  `bun:"id,pk,autoincrement"`
	UserID int64  `bun:"user_id,notnull"`
	Kind   string `bun:"kind,notnull"`
	Digest []byte `bun:"digest,notnull"`
	// Email is the address the token was mailed to. A confirmation token
	// confirms that address only; a reset token confirms it only if the
	// user still has it.
	Email   string    `bun:"email,notnull"`
	Created time.Time `bun:"created,notnull"`
	Expires time.Time `bun:"expires,notnull"`
}

// issueToken mints a token of kind for the user, bound to email, valid from
// now for ttl, and stores its digest. The user's older tokens of the kind are
// deleted in the same transaction: a new link voids the ones sent before.
// The caller holds the user's row locked (see findByID's forUpdate), so that
// two issues for one user cannot both survive.
func (t tables) issueToken(ctx context.Context, tx bun.Tx, userID int64, kind auth.Kind, email string, now time.Time, ttl time.Duration) (string, time.Time, error) {
	plain, digest, err := auth.NewToken(kind)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("users: issue %s token: %w", kind, err)
	}
	if err := t.deleteTokens(ctx, tx, userID, kind); err != nil {
		return "", time.Time{}, err
	}
	row := &tokenRow{UserID: userID, Kind: string(kind), Digest: digest, Email: email, Created: now, Expires: now.Add(ttl)}
	if _, err := tx.NewInsert().Model(row).ModelTableExpr(t.tokens).Exec(ctx); err != nil {
		return "", time.Time{}, fmt.Errorf("users: issue %s token for user %d: %w", kind, userID, err)
	}
	return plain, row.Expires, nil
}

// findToken returns the unexpired token of kind whose plain text is given,
// or nil. It only reads: it tells whether a token is worth the work of using
// it, and consumeToken decides.
func (t tables) findToken(ctx context.Context, db bun.IDB, plain string, kind auth.Kind, now time.Time) (*tokenRow, error) {
	row := new(tokenRow)
	err := db.NewSelect().Model(row).ModelTableExpr(t.tokens).
		Where("digest = ?", auth.Digest(plain)).
		Where("kind = ?", string(kind)).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("users: find %s token: %w", kind, err)
	}
	if !now.Before(row.Expires) {
		return nil, nil
	}
	return row, nil
}

// consumeToken deletes the token of kind whose plain text is given and
// returns it, or nil when there is none of that kind or it has expired.
// Taking the row with DELETE … RETURNING makes the check and the use one
// step: of two concurrent uses, only one gets the row. A token of another
// kind is left alone. Called in a transaction, the token comes back if the
// transaction rolls back.
func (t tables) consumeToken(ctx context.Context, db bun.IDB, plain string, kind auth.Kind, now time.Time) (*tokenRow, error) {
	var rows []tokenRow
	_, err := db.NewDelete().Model(&rows).ModelTableExpr(t.tokens).
		Where("digest = ?", auth.Digest(plain)).
		Where("kind = ?", string(kind)).
		Returning("*").
		Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("users: use %s token: %w", kind, err)
	}
	if len(rows) == 0 || !now.Before(rows[0].Expires) {
		// The caller refuses, which rolls the delete of an expired token
		// back; the cleanup deletes it.
		return nil, nil
	}
	return &rows[0], nil
}

// deleteTokens deletes a user's one-time tokens of the given kinds, or of
// every kind when none is given.
func (t tables) deleteTokens(ctx context.Context, db bun.IDB, userID int64, kinds ...auth.Kind) error {
	q := db.NewDelete().Model((*tokenRow)(nil)).ModelTableExpr(t.tokens).Where("user_id = ?", userID)
	if len(kinds) > 0 {
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = string(k)
		}
		q = q.Where("kind IN (?)", bun.List(names))
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("users: delete tokens of user %d: %w", userID, err)
	}
	return nil
}

func (m *Module) deleteExpiredTokens(ctx context.Context) (int64, error) {
	res, err := m.db.NewDelete().Model((*tokenRow)(nil)).ModelTableExpr(m.tables.tokens).Where("expires <= ?", m.now().UTC()).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("users: delete expired tokens: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
