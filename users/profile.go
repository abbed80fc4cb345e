package users

import (
	"context"

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
	m.registerProfileSessions(mod)
}

// profileRead answers the caller's own user record (from the userCache).
func (m *Module) profileRead(ctx context.Context) (record, error) {
	p := auth.FromContext(ctx)
	u, err := m.cachedUser(ctx, p.UserID)
	if err != nil {
		return record{}, err
	}
	if u == nil {
		return record{}, rpc.NotFound("user %q not found", p.Username)
	}
	return m.recordOf(u), nil
}

// profileSetEmail sets the caller's email (unconfirmed), or clears it when
// none (or an empty one) is given.
func (m *Module) profileSetEmail(ctx context.Context, email *string) (rpc.Result, error) {
	caller := auth.FromContext(ctx)
	return changedResult(m.As(caller).SetEmail(ctx, caller.UserID, deref(email)))
}

// profileSetTelegram sets or clears the caller's telegram name.
func (m *Module) profileSetTelegram(ctx context.Context, name *string) (rpc.Result, error) {
	caller := auth.FromContext(ctx)
	return changedResult(m.As(caller).SetTelegramName(ctx, caller.UserID, deref(name)))
}

// deref is an optional parameter's value, "" when it was not sent.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
