package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Recovery codes: ten one-time codes that stand in for a lost second
// factor. They are shown once, when made, and stored as SHA-256 digests:
// each carries 50 random bits, so a fast digest is enough, and guessing
// is bounded by the sign-in limits.

const (
	// RecoveryCodes is how many recovery codes a user gets at a time.
	RecoveryCodes = 10
	// recoveryAlphabet is base32 without the letters read as digits.
	recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	recoveryHalf     = 5 // characters each side of the dash: "xxxxx-xxxxx"
)

// recoveryRow is a row of user_recovery_codes: an unused code.
type recoveryRow struct {
	bun.BaseModel `bun:"table:user_recovery_codes,alias:rc"`

	ID      int64     `bun:"id,pk,autoincrement"`
	UserID  int64     `bun:"user_id,notnull"`
	Digest  []byte    `bun:"digest,notnull"`
	Created time.Time `bun:"created,notnull"`
}

// newRecoveryCode returns a random code, "xxxxx-xxxxx".
func newRecoveryCode() (string, error) {
	var raw [2 * recoveryHalf]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	var b strings.Builder
	for i, r := range raw {
		if i == recoveryHalf {
			b.WriteByte('-')
		}
		// 256 is not a multiple of the alphabet's 31 letters: the first
		// 8 letters come a little more often (9 in 256 against 8), which
		// costs well under a bit of the code's 49.
		b.WriteByte(recoveryAlphabet[int(r)%len(recoveryAlphabet)])
	}
	return b.String(), nil
}

// recoveryDigest is what is stored of a code: the digest of its letters,
// lower case, without spaces or dashes, so that "ABCDE FGHJK" as typed is
// "abcde-fghjk".
func recoveryDigest(code string) []byte {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		if r != '-' && r != ' ' {
			b.WriteRune(r)
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	return sum[:]
}

// storeRecoveryCodes replaces user id's recovery codes with ten new ones
// in tx and returns them.
func (m *Module) storeRecoveryCodes(ctx context.Context, tx bun.IDB, userID int64) ([]string, error) {
	if _, err := tx.NewDelete().Model((*recoveryRow)(nil)).ModelTableExpr(m.tables.recovery).Where("user_id = ?", userID).Exec(ctx); err != nil {
		return nil, fmt.Errorf("users: void recovery codes of user %d: %w", userID, err)
	}
	codes := make([]string, RecoveryCodes)
	rows := make([]recoveryRow, RecoveryCodes)
	now := m.stamp()
	for i := range codes {
		c, err := newRecoveryCode()
		if err != nil {
			return nil, fmt.Errorf("users: recovery code: %w", err)
		}
		codes[i] = c
		rows[i] = recoveryRow{UserID: userID, Digest: recoveryDigest(c), Created: now}
	}
	if _, err := tx.NewInsert().Model(&rows).ModelTableExpr(m.tables.prefix + "user_recovery_codes").Exec(ctx); err != nil {
		return nil, fmt.Errorf("users: store recovery codes of user %d: %w", userID, err)
	}
	return codes, nil
}

// NewRecoveryCodes voids the actor's own recovery codes and answers ten
// new ones, shown this once. A user without another second factor has
// nothing to recover: ErrConflict. The API requires a recent
// authorization for it.
func (a Actor) NewRecoveryCodes(ctx context.Context) ([]string, error) {
	m := a.m
	row, err := a.selfSession(ctx)
	if err != nil {
		return nil, err
	}
	others, err := m.otherFactors(ctx, row.user())
	if err != nil {
		return nil, err
	}
	if len(others) == 0 {
		return nil, refuse(ErrConflict, "recovery codes stand in for a second factor: enrol TOTP or a passkey first")
	}
	var codes []string
	err = m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if codes, err = m.storeRecoveryCodes(ctx, tx, row.ID); err != nil {
			return err
		}
		return a.record(ctx, tx, "users.new-recovery-codes", row.ID, map[string]any{"recovery_codes": true})
	})
	if err != nil {
		return nil, err
	}
	m.factorsChanged(row.ID)
	return codes, nil
}

// recoveryLeft counts user id's unused recovery codes.
func (m *Module) recoveryLeft(ctx context.Context, userID int64) (int, error) {
	n, err := m.db.NewSelect().Model((*recoveryRow)(nil)).ModelTableExpr(m.tables.recovery).Where("user_id = ?", userID).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("users: count recovery codes of user %d: %w", userID, err)
	}
	return int(n), nil
}

// otherFactors are the methods of u's enrolled second factors other than
// recovery codes.
func (m *Module) otherFactors(ctx context.Context, u *User) ([]string, error) {
	return m.enrolledExcept(ctx, u, methodRecovery)
}

// recoveryEnrolled is the recovery codes' Enrolled: unused codes, beside
// another factor (codes alone, left by a factor removed elsewhere, are no
// second factor).
func (m *Module) recoveryEnrolled(ctx context.Context, u *User) (bool, error) {
	n, err := m.recoveryLeft(ctx, u.ID)
	if err != nil || n == 0 {
		return false, err
	}
	others, err := m.otherFactors(ctx, u)
	return len(others) > 0, err
}

// dropLoneRecoveryCodes deletes u's recovery codes when no other factor
// is left to recover.
func (m *Module) dropLoneRecoveryCodes(ctx context.Context, u *User) error {
	others, err := m.otherFactors(ctx, u)
	if err != nil || len(others) > 0 {
		return err
	}
	if _, err := m.db.NewDelete().Model((*recoveryRow)(nil)).ModelTableExpr(m.tables.recovery).Where("user_id = ?", u.ID).Exec(ctx); err != nil {
		return fmt.Errorf("users: delete recovery codes of user %d: %w", u.ID, err)
	}
	return nil
}

// verifyRecovery is the Verifier of {"recovery_code"}: one of u's unused
// codes, spent by deleting it (of two uses, one gets the row).
func (m *Module) verifyRecovery(ctx context.Context, u *User, creds Credentials) error {
	code, _, err := creds.String("recovery_code")
	if err != nil {
		return err
	}
	if n := len(code); n == 0 || n > 64 {
		return refuse(ErrInvalid, "credentials: recovery_code: a recovery code is %d letters and digits, such as \"abcde-23456\"", 2*recoveryHalf)
	}
	res, err := m.db.NewDelete().Model((*recoveryRow)(nil)).ModelTableExpr(m.tables.recovery).
		Where("user_id = ? AND digest = ?", u.ID, recoveryDigest(code)).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("users: recovery code of user %d: %w", u.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return refuse(ErrUnauthenticated, "wrong or used recovery code")
	}
	return nil
}
