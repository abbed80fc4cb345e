package users

import (
	"context"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// The /v1/session methods of mailed links: adapters over
// SendConfirmationEmail, SendPasswordResetEmail (links.go), ConfirmEmail
// and ResetPassword (redeem.go).

func (m *Module) registerEmail(mod *rpc.Section) {
	anyone := []string{auth.Anyone}
	userID := rpc.Param{Name: "user_id", Description: "User name or email."}
	mod.Register(rpc.Method{
		ID: "send-confirmation-email", Title: "Send confirmation email", Description: "Mails the user a link to confirm the email address, with a single-use token (24 hours by default); the link starts with the `app_url` setting. Answers the same whether or not the user exists.", Permissions: anyone,
		Params: []rpc.Param{userID},
		Handler: func(ctx context.Context, userID string) error {
			return rpcError(m.SendConfirmationEmail(ctx, userID, clientAddr(ctx)))
		},
	})
	mod.Register(rpc.Method{
		ID: "confirm-email-by-token", Title: "Confirm user email using email confirmation token", Description: "Marks the email address the token was sent to as confirmed and uses the token up.", Permissions: anyone,
		Params: []rpc.Param{{Name: "token", Description: "Email confirmation token."}},
		Handler: func(ctx context.Context, token string) error {
			return rpcError(m.ConfirmEmail(ctx, token))
		},
	})
	mod.Register(rpc.Method{
		ID: "send-password-reset-email", Title: "Send password reset email", Description: "Mails the user a link to set a new password, with a single-use token (1 hour by default) that voids the ones sent before. Answers the same whether or not the user exists.", Permissions: anyone,
		Params: []rpc.Param{userID},
		Handler: func(ctx context.Context, userID string) error {
			return rpcError(m.SendPasswordResetEmail(ctx, userID, clientAddr(ctx)))
		},
	})
	mod.Register(rpc.Method{
		ID: "set-password-by-token", Title: "Set user password using password recovery token", Description: "Sets the password of the user the token was sent to, uses the token up, and ends the user's sessions and API tokens.", Permissions: anyone,
		Params: []rpc.Param{{Name: "token"}, {Name: "password"}},
		Handler: func(ctx context.Context, token, password string) error {
			return rpcError(m.ResetPassword(ctx, token, password))
		},
	})
}
