package users

import (
	"context"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// The API of the second factors (SPEC §10): adapters over the Actor's
// methods in totp.go, recovery.go and factors.go.

// recoveryAnswer is what confirm-totp and new-recovery-codes answer.
type recoveryAnswer struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

const recoveryText = " Recovery codes are shown this once: each signs in once in place of a code; new ones void the old."

func (m *Module) registerFactors() {
	profile := m.reg.Section("/v1/profile", "User profile")
	user := []string{auth.User}
	as := func(ctx context.Context) Actor { return m.As(auth.FromContext(ctx)) }
	profile.Register(rpc.Method{
		ID: "get-second-factors", Title: "Read second factors", Permissions: user,
		Description: "Answers the caller's second factors: `{methods, totp_pending, recovery_codes, required, totp_available}`: `methods` the enrolled ones as a sign-in's `second_factor.methods` names them, `recovery_codes` how many unused codes are left, `required` whether the caller must enrol one before anything else.",
		Handler: func(ctx context.Context) (*SecondFactors, error) {
			f, err := as(ctx).SecondFactors(ctx)
			return f, rpcError(err)
		},
	})
	profile.Register(rpc.Method{
		ID: "begin-totp", Title: "Begin TOTP enrolment", Permissions: user,
		Description: "Makes a new TOTP secret for the caller (RFC 6238: 30 s, 6 digits, SHA-1) and answers `{secret, uri, qr}`: the base32 secret, its `otpauth://` URI and the URI's QR code as a `data:image/png;base64,` URL. It takes effect once `confirm-totp` gets a code of it; a TOTP enrolled before works until then. 400 when the server has no keyring to encrypt secrets with.",
		Handler: func(ctx context.Context) (*TOTPEnrolment, error) {
			e, err := as(ctx).BeginTOTP(ctx)
			return e, rpcError(err)
		},
		RequireAuthorization: true,
	})
	profile.Register(rpc.Method{
		ID: "confirm-totp", Title: "Confirm TOTP enrolment", Permissions: user,
		Description: "Confirms the secret `begin-totp` made with a `code` of it: from then on a sign-in with the password asks for a code. Answers `{recovery_codes}`: ten new codes when the caller had none, else `[]`." + recoveryText + " 400 for a wrong code, 409 when no enrolment is pending.",
		Params:      []rpc.Param{{Name: "code", Description: "A 6-digit code of the new secret."}},
		Handler: func(ctx context.Context, code string) (recoveryAnswer, error) {
			codes, err := as(ctx).ConfirmTOTP(ctx, code)
			return recoveryAnswer{codes}, rpcError(err)
		},
	})
	profile.Register(rpc.Method{
		ID: "remove-totp", Title: "Remove TOTP", Permissions: user,
		Description: "Removes the caller's TOTP (204 when there was none); with no other second factor left, the recovery codes go too.",
		Handler: func(ctx context.Context) (rpc.Result, error) {
			return changedResult(as(ctx).RemoveTOTP(ctx))
		},
		RequireAuthorization: true,
	})
	profile.Register(rpc.Method{
		ID: "new-recovery-codes", Title: "New recovery codes", Permissions: user,
		Description: "Voids the caller's recovery codes and answers `{recovery_codes}`: ten new ones." + recoveryText + " 409 without a second factor to recover.",
		Handler: func(ctx context.Context) (recoveryAnswer, error) {
			codes, err := as(ctx).NewRecoveryCodes(ctx)
			return recoveryAnswer{codes}, rpcError(err)
		},
		RequireAuthorization: true,
	})
	admin := m.reg.Section("/v1/admin/users", "Application users management")
	admin.Register(rpc.Method{
		ID: "remove-factors", Title: "Remove user second factors", Permissions: []string{m.adminPerm},
		Description: "Removes every second factor of the user (TOTP, recovery codes, passkeys), ends the user's sessions and mails the user. Only root removes root's.",
		Params:      []rpc.Param{{Name: "user_id", Description: "User id or name."}},
		Handler: func(ctx context.Context, userID string) error {
			row, err := m.resolve(ctx, userID)
			if err != nil {
				return err
			}
			return rpcError(as(ctx).RemoveFactors(ctx, row.ID))
		},
		RequireAuthorization: true,
	})
}
