package users

import (
	"bytes"
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"strconv"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
)

// TOTP (RFC 6238): 30-second steps, 6 digits, SHA-1, the parameters every
// authenticator app reads from an otpauth:// URI. Enrolment takes two
// steps: BeginTOTP makes a pending secret, ConfirmTOTP makes it the user's
// once a code from it is right. Secrets are stored sealed by
// Options.Keyring, bound to their user.

const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	// totpSkew is how many steps before and after now a code may be of:
	// one each way, for clocks a little off and a code typed at the turn.
	totpSkew = 1
	// totpQRSize is the side of the QR image, in pixels.
	totpQRSize = 256
)

// DefaultTOTPIssuer names the service in authenticator apps when
// Options.TOTPIssuer is empty and the app URL gives no host.
const DefaultTOTPIssuer = "authrpc"

// Keyring seals secrets at rest: the users module's TOTP secrets.
// *settings.Keyring fits (its Seal and Open, "enc:v1:…" as the SMTP
// password is stored). purpose binds a sealed value to its use: a value
// sealed for one purpose does not open for another.
type Keyring interface {
	Seal(purpose string, value []byte) string
	Open(purpose, sealed string) ([]byte, error)
}

// totpRow is a row of user_totp.
type totpRow struct {
	bun.BaseModel `bun:"table:user_totp,alias:ft"`

	UserID   int64     `bun:"user_id,pk"`
	Secret   string    `bun:"secret,notnull"`  // sealed; "" while none is confirmed
	Pending  string    `bun:"pending,notnull"` // sealed; "" when no enrolment is pending
	LastStep int64     `bun:"last_step,notnull"`
	Created  time.Time `bun:"created,notnull"`
}

// TOTPEnrolment is what BeginTOTP answers: the secret to put in an
// authenticator app, by hand (Secret, base32), by link (URI, otpauth://)
// or by camera (QR, a data:image/png;base64, URL of the URI's QR code).
type TOTPEnrolment struct {
	Secret string `json:"secret"`
	URI    string `json:"uri"`
	QR     string `json:"qr"`
}

// errNoKeyring refuses TOTP on a module without Options.Keyring.
func errNoKeyring() *Error {
	return refuse(ErrInvalid, "TOTP is not available: the server has no keyring to encrypt its secrets with (users.Options.Keyring)")
}

func totpPurpose(userID int64) string { return "users.totp:" + strconv.FormatInt(userID, 10) }

// BeginTOTP starts enrolling TOTP for the actor's own user: a new secret,
// pending until ConfirmTOTP. A TOTP already enrolled keeps working until
// the new one is confirmed; a pending one is replaced. The API requires a
// recent authorization for it.
func (a Actor) BeginTOTP(ctx context.Context) (*TOTPEnrolment, error) {
	m := a.m
	row, err := a.selfSession(ctx)
	if err != nil {
		return nil, err
	}
	if m.keyring == nil {
		return nil, errNoKeyring()
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: m.totpIssuer(ctx), AccountName: row.Name,
		Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, SecretSize: 20,
	})
	if err != nil {
		return nil, fmt.Errorf("users: begin TOTP: %w", err)
	}
	img, err := key.Image(totpQRSize, totpQRSize)
	if err != nil {
		return nil, fmt.Errorf("users: begin TOTP: QR: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return nil, fmt.Errorf("users: begin TOTP: QR: %w", err)
	}
	sealed := m.keyring.Seal(totpPurpose(row.ID), []byte(key.Secret()))
	_, err = m.db.NewInsert().Model(&totpRow{UserID: row.ID, Pending: sealed, Created: m.stamp()}).
		ModelTableExpr(m.tables.prefix + "user_totp").
		On("CONFLICT (user_id) DO UPDATE").Set("pending = EXCLUDED.pending").
		Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("users: begin TOTP for user %d: %w", row.ID, err)
	}
	return &TOTPEnrolment{
		Secret: key.Secret(), URI: key.URL(),
		QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(qr.Bytes()),
	}, nil
}

// ConfirmTOTP completes the enrolment BeginTOTP started, with a code from
// the new secret: the secret becomes the user's TOTP (replacing one it
// had), and the code is spent. It answers ten new recovery codes when the
// user had none, shown this once; otherwise none (the user's stay). No
// enrolment pending is ErrConflict, a wrong code ErrInvalid.
func (a Actor) ConfirmTOTP(ctx context.Context, code string) (recovery []string, err error) {
	m := a.m
	row, err := a.selfSession(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkTOTPCode(code); err != nil {
		return nil, err
	}
	if m.keyring == nil {
		return nil, errNoKeyring()
	}
	cur, err := m.findTOTP(ctx, m.db, row.ID)
	if err != nil {
		return nil, err
	}
	if cur == nil || cur.Pending == "" {
		return nil, refuse(ErrConflict, "no TOTP enrolment is pending: call begin-totp first")
	}
	step, ok, err := m.totpStep(row.ID, cur.Pending, code)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, refuse(ErrInvalid, "code: wrong code for the new secret: check the authenticator app's clock, and try the next code")
	}
	err = m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*totpRow)(nil)).ModelTableExpr(m.tables.totp).
			Set("secret = pending, pending = '', last_step = ?", step).
			Where("user_id = ? AND pending = ?", row.ID, cur.Pending).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("users: confirm TOTP for user %d: %w", row.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return refuse(ErrConflict, "the TOTP enrolment changed meanwhile: call begin-totp again")
		}
		n, err := tx.NewSelect().Model((*recoveryRow)(nil)).ModelTableExpr(m.tables.recovery).Where("user_id = ?", row.ID).Count(ctx)
		if err != nil {
			return fmt.Errorf("users: confirm TOTP for user %d: %w", row.ID, err)
		}
		if n == 0 {
			if recovery, err = m.storeRecoveryCodes(ctx, tx, row.ID); err != nil {
				return err
			}
		}
		return a.record(ctx, tx, "users.enrol-totp", row.ID, map[string]any{"totp": true, "recovery_codes": len(recovery) > 0})
	})
	if err != nil {
		return nil, err
	}
	m.factorsChanged(row.ID)
	if recovery == nil {
		recovery = []string{}
	}
	return recovery, nil
}

// RemoveTOTP removes the actor's own TOTP, enrolled or pending, and
// reports whether there was one. When no other second factor is left
// (a passkey), the recovery codes go too: they recover a factor only. The
// API requires a recent authorization for it.
func (a Actor) RemoveTOTP(ctx context.Context) (bool, error) {
	m := a.m
	row, err := a.selfSession(ctx)
	if err != nil {
		return false, err
	}
	var removed bool
	err = m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*totpRow)(nil)).ModelTableExpr(m.tables.totp).Where("user_id = ?", row.ID).Exec(ctx)
		if err != nil {
			return fmt.Errorf("users: remove TOTP of user %d: %w", row.ID, err)
		}
		n, _ := res.RowsAffected()
		if removed = n > 0; !removed {
			return nil
		}
		return a.record(ctx, tx, "users.remove-totp", row.ID, map[string]any{"totp": false})
	})
	if err != nil || !removed {
		return removed, err
	}
	if err := m.dropLoneRecoveryCodes(ctx, row.user()); err != nil {
		return true, err
	}
	m.factorsChanged(row.ID)
	return true, nil
}

// selfSession is the actor's own user, for the enrolment methods: a
// signed-in user, through a session (an API token may not change how its
// user signs in).
func (a Actor) selfSession(ctx context.Context) (*userRow, error) {
	switch p := a.by; {
	case !p.Authenticated():
		return nil, refuse(ErrUnauthenticated, "Not authenticated")
	case p.Kind == auth.KindAPIToken:
		return nil, refuse(ErrForbidden, "an API token cannot change second factors: sign in")
	}
	return a.m.load(ctx, a.by.UserID)
}

// totpIssuer names the service in the otpauth:// URI.
func (m *Module) totpIssuer(ctx context.Context) string {
	if m.totpIssuerName != "" {
		return m.totpIssuerName
	}
	if m.links != nil && m.links.appURL != nil {
		if base, err := m.links.appURL(ctx); err == nil {
			if u, err := url.Parse(base); err == nil && u.Hostname() != "" {
				return u.Hostname()
			}
		}
	}
	return DefaultTOTPIssuer
}

// checkTOTPCode refuses what cannot be a code: six digits.
func checkTOTPCode(code string) error {
	if len(code) != int(totpDigits) {
		return refuse(ErrInvalid, "code: a TOTP code is %d digits", int(totpDigits))
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return refuse(ErrInvalid, "code: a TOTP code is %d digits", int(totpDigits))
		}
	}
	return nil
}

// totpStep opens the sealed secret of user id and answers the time step
// the code is of (now, or a step before or after), or ok false.
func (m *Module) totpStep(userID int64, sealed, code string) (step int64, ok bool, err error) {
	secret, err := m.keyring.Open(totpPurpose(userID), sealed)
	if err != nil {
		return 0, false, fmt.Errorf("users: TOTP secret of user %d: %w", userID, err)
	}
	now := m.now().Unix() / totpPeriod
	opts := totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
	for s := now - totpSkew; s <= now+totpSkew; s++ {
		want, err := totp.GenerateCodeCustom(string(secret), time.Unix(s*totpPeriod, 0), opts)
		if err != nil {
			return 0, false, fmt.Errorf("users: TOTP code of user %d: %w", userID, err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s, true, nil
		}
	}
	return 0, false, nil
}

// findTOTP reads user id's TOTP row, or nil.
func (m *Module) findTOTP(ctx context.Context, db bun.IDB, userID int64) (*totpRow, error) {
	row := new(totpRow)
	err := db.NewSelect().Model(row).ModelTableExpr(m.tables.totp).Where("user_id = ?", userID).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("users: read TOTP of user %d: %w", userID, err)
	}
	return row, nil
}

// totpEnrolled is the TOTP verifier's Enrolled: a confirmed secret.
func (m *Module) totpEnrolled(ctx context.Context, u *User) (bool, error) {
	n, err := m.db.NewSelect().Model((*totpRow)(nil)).ModelTableExpr(m.tables.totp).
		Where("user_id = ? AND secret <> ''", u.ID).Count(ctx)
	return n > 0, err
}

// verifyTOTP is the Verifier of {"totp_code"}: a code of u's secret, of a
// time step after the last one accepted. Taking the step is one
// conditional update, so that of two instances seeing the same code only
// one accepts it.
func (m *Module) verifyTOTP(ctx context.Context, u *User, creds Credentials) error {
	code, _, err := creds.String("totp_code")
	if err != nil {
		return err
	}
	if err := checkTOTPCode(code); err != nil {
		return refuse(ErrInvalid, "credentials: totp_code: a TOTP code is %d digits", int(totpDigits))
	}
	if m.keyring == nil {
		return errNoKeyring()
	}
	row, err := m.findTOTP(ctx, m.db, u.ID)
	if err != nil {
		return err
	}
	if row == nil || row.Secret == "" {
		return refuse(ErrUnauthenticated, "wrong or used TOTP code")
	}
	step, ok, err := m.totpStep(u.ID, row.Secret, code)
	if err != nil || !ok {
		if err == nil {
			err = refuse(ErrUnauthenticated, "wrong or used TOTP code")
		}
		return err
	}
	res, err := m.db.NewUpdate().Model((*totpRow)(nil)).ModelTableExpr(m.tables.totp).
		Set("last_step = ?", step).
		Where("user_id = ? AND secret = ? AND last_step < ?", u.ID, row.Secret, step).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("users: TOTP of user %d: %w", u.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return refuse(ErrUnauthenticated, "wrong or used TOTP code")
	}
	return nil
}
