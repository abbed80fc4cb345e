package users

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/mailer"
)

// The module's own second factors (TOTP, recovery codes), their removal by
// an administrator, and the factor a host requires of some users.

// Methods of the built-in second factors, as second_factor.methods names
// them; a passkey's is "passkey".
const (
	methodTOTP     = "totp"
	methodRecovery = "recovery_code"
)

// SecondFactorRequiredFlag is the meta flag of the 403 that a session of a
// user who must enrol a second factor gets from any method but those of
// EnrolmentMethods (Options.RequireFactorFor).
const SecondFactorRequiredFlag = "second_factor_required"

// EnrolmentMethods are what a session of a user who must enrol a second
// factor (Options.RequireFactorFor) may call: enrol one (TOTP, a
// passkey), authorize first (enrolling needs a recent authorization),
// read its profile and factors, and sign out. Everything else answers 403
// with error.data.meta.second_factor_required true, until a factor is
// enrolled.
var EnrolmentMethods = []string{
	"/v1/session/signin", "/v1/session/signout", "/v1/session/authorize",
	"/v1/profile/read", "/v1/profile/get-second-factors",
	"/v1/profile/begin-totp", "/v1/profile/confirm-totp",
	"/v1/profile/begin-passkey", "/v1/profile/finish-passkey", "/v1/profile/get-passkeys",
}

// FactorRemover removes second factors of user userID that another part of
// the module keeps in tables of its own (passkeys), in tx: the
// transaction of Actor.RemoveFactors, which removes TOTP and recovery
// codes in it too.
type FactorRemover func(ctx context.Context, tx bun.Tx, userID int64) error

// OnRemoveFactors adds fn to what Actor.RemoveFactors
// (/v1/admin/users/remove-factors) runs, so that a second factor stored
// apart (the passkeys' table) goes with the others, in one transaction.
func (m *Module) OnRemoveFactors(fn FactorRemover) {
	m.removers.add(fn)
}

// mountFactors plugs TOTP and recovery codes in as second factors.
func (m *Module) mountFactors(opts Options) error {
	m.keyring = opts.Keyring
	m.totpIssuerName = opts.TOTPIssuer
	for _, tag := range opts.RequireFactorFor {
		if err := m.perms.CheckTag(tag); err != nil {
			return fmt.Errorf("users: mount: Options.RequireFactorFor: %w", err)
		}
	}
	m.requireFactorFor = slices.Clone(opts.RequireFactorFor)
	if len(m.requireFactorFor) > 0 {
		allowed := make(map[string]bool, len(EnrolmentMethods))
		for _, id := range EnrolmentMethods {
			allowed[id] = true
		}
		m.enrolOnly = &auth.Confinement{
			Methods: allowed,
			Flag:    SecondFactorRequiredFlag,
			Message: fmt.Sprintf("enrol a second factor first (TOTP or a passkey): holders of %s must have one; until then only %s answer",
				quoteList(m.requireFactorFor), strings.Join(EnrolmentMethods, ", ")),
		}
	}
	m.verifiers.add(Verifier{Field: "totp_code", Method: methodTOTP, Enrolled: m.totpEnrolled, Verify: m.verifyTOTP})
	m.verifiers.add(Verifier{Field: "recovery_code", Method: methodRecovery, Enrolled: m.recoveryEnrolled, Verify: m.verifyRecovery})
	return nil
}

// confine confines p, a session of row, when row must enrol a second
// factor and has none.
func (m *Module) confine(ctx context.Context, row *userRow, p *auth.Principal) error {
	if m.enrolOnly == nil || !p.Allowed(m.requireFactorFor) {
		return nil
	}
	has, err := m.HasSecondFactor(ctx, row.user())
	if err != nil {
		return err
	}
	if !has {
		p.Confined = m.enrolOnly
	}
	return nil
}

// factorsChanged drops the cached callers of user id, so that whether a
// session is confined follows the change on every instance.
func (m *Module) factorsChanged(id int64) {
	m.reg.Auth().Invalidate(auth.Invalidation{UserID: id, Kind: auth.KindSession, Refresh: true})
}

// SecondFactors describes a user's second factors.
type SecondFactors struct {
	// Methods are the enrolled factors, as second_factor.methods names
	// them ("passkey", "recovery_code", "totp").
	Methods []string `json:"methods"`
	// TOTPPending says a TOTP enrolment waits for its confirmation.
	TOTPPending bool `json:"totp_pending"`
	// RecoveryCodes is how many unused recovery codes are left.
	RecoveryCodes int `json:"recovery_codes"`
	// Required says the user must enrol one before anything else
	// (Options.RequireFactorFor).
	Required bool `json:"required"`
	// TOTPAvailable says the server can enrol TOTP (it has a keyring).
	TOTPAvailable bool `json:"totp_available"`
}

// SecondFactors describes the actor's own second factors.
func (a Actor) SecondFactors(ctx context.Context) (*SecondFactors, error) {
	m := a.m
	if !a.by.Authenticated() {
		return nil, refuse(ErrUnauthenticated, "Not authenticated")
	}
	row, err := m.load(ctx, a.by.UserID)
	if err != nil {
		return nil, err
	}
	u := row.user()
	methods, err := m.enrolledMethods(ctx, u)
	if err != nil {
		return nil, err
	}
	out := &SecondFactors{Methods: methods, TOTPAvailable: m.keyring != nil}
	if out.Methods == nil {
		out.Methods = []string{}
	}
	if out.RecoveryCodes, err = m.recoveryLeft(ctx, u.ID); err != nil {
		return nil, err
	}
	t, err := m.findTOTP(ctx, m.db, u.ID)
	if err != nil {
		return nil, err
	}
	out.TOTPPending = t != nil && t.Pending != ""
	out.Required = m.enrolOnly != nil && len(methods) == 0 && m.principal(row, 0, a.by.ExpiresAt).Allowed(m.requireFactorFor)
	return out, nil
}

// RemoveFactors removes every second factor of user id (TOTP, recovery
// codes, and what the FactorRemovers keep: passkeys), ends the user's
// sessions, and mails the user. It takes the admin permission; root's
// factors only root removes. The API requires a recent authorization.
func (a Actor) RemoveFactors(ctx context.Context, id int64) (err error) {
	if err := a.administer(); err != nil {
		return err
	}
	defer a.recordRefusal(ctx, "users.remove-factors", id, &err)
	if id == auth.RootUserID && !a.by.IsRoot() {
		return refuse(ErrForbidden, "only root removes root's second factors")
	}
	m := a.m
	row, err := m.load(ctx, id)
	if err != nil {
		return err
	}
	removers := m.removers.all()
	err = m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*totpRow)(nil)).ModelTableExpr(m.tables.totp).Where("user_id = ?", id).Exec(ctx); err != nil {
			return fmt.Errorf("users: remove TOTP of user %d: %w", id, err)
		}
		if _, err := tx.NewDelete().Model((*recoveryRow)(nil)).ModelTableExpr(m.tables.recovery).Where("user_id = ?", id).Exec(ctx); err != nil {
			return fmt.Errorf("users: remove recovery codes of user %d: %w", id, err)
		}
		for _, fn := range removers {
			if err := fn(ctx, tx, id); err != nil {
				return fmt.Errorf("users: remove factors of user %d: %w", id, err)
			}
		}
		return a.record(ctx, tx, "users.remove-factors", id, map[string]any{"totp": false, "recovery_codes": false, "passkeys": false})
	})
	if err != nil {
		return err
	}
	if _, err := a.endSessions(ctx, id, 0); err != nil {
		return err
	}
	m.factorsChanged(id)
	m.notify(row.Email, mailer.TemplateFactorsRemoved, mailer.NoticeData{Username: row.Name, Time: m.stamp()})
	return nil
}
