package users_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/users"
)

// The operations as a caller (Module.As) keep the rules the methods' tags
// keep, for a host's own methods whose tags may be anything: administering
// takes the admin permission, a user changes its own contact fields only,
// a guest nothing.
func TestActorKeepsTheMethodsRules(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ann, _, err := e.mod.Create(ctx, users.NewUser{Username: "ann", Password: "ann-password", Permissions: map[string]bool{"admin": true}})
		require.NoError(t, err)
		bob, _, err := e.mod.Create(ctx, users.NewUser{Username: "bob", Password: "bob-password"})
		require.NoError(t, err)
		session := func(u *users.User) *auth.Principal {
			return &auth.Principal{UserID: u.ID, Username: u.Name, Kind: auth.KindSession, Permissions: e.mod.Permissions(u)}
		}
		before := e.snapshot(t)

		// A guest, and a user without the admin permission, administer nobody.
		for name, p := range map[string]*auth.Principal{"guest": nil, "bob": session(bob)} {
			a := e.mod.As(p)
			_, _, err := a.Create(ctx, users.NewUser{Username: "carol", Password: "carol-password"})
			assert.Equal(t, users.ErrForbidden, reason(t, err), name)
			assert.Equal(t, users.ErrForbidden, reason(t, a.Delete(ctx, ann.ID)), name)
			assert.Equal(t, users.ErrForbidden, reason(t, a.SetPassword(ctx, ann.ID, "new-password")), name)
			for op, fn := range map[string]func() (bool, error){
				"SetEnabled":         func() (bool, error) { return a.SetEnabled(ctx, ann.ID, false) },
				"SetPermissions":     func() (bool, error) { return a.SetPermissions(ctx, ann.ID, nil) },
				"UpdatePermissions":  func() (bool, error) { return a.UpdatePermissions(ctx, ann.ID, map[string]bool{"admin": false}) },
				"Rename":             func() (bool, error) { return a.Rename(ctx, ann.ID, "anna") },
				"RenameWithPassword": func() (bool, error) { return a.RenameWithPassword(ctx, ann.ID, "anna", "new-password") },
				"SetEmail":           func() (bool, error) { return a.SetEmail(ctx, ann.ID, "ann@example.com") },
				"SetTelegramName":    func() (bool, error) { return a.SetTelegramName(ctx, ann.ID, "ann_tg") },
			} {
				changed, err := fn()
				assert.False(t, changed, "%s: %s", name, op)
				assert.Equal(t, users.ErrForbidden, reason(t, err), "%s: %s", name, op)
			}
		}
		_, err = e.mod.As(nil).SignOut(ctx)
		assert.Equal(t, users.ErrNotFound, reason(t, err), "a guest has no session to end")
		assert.Equal(t, before, e.snapshot(t), "nothing changed")

		// A user changes its own contact fields; an administrator anybody's.
		changed, err := e.mod.As(session(bob)).SetEmail(ctx, bob.ID, "bob@example.com")
		require.NoError(t, err)
		assert.True(t, changed)
		changed, err = e.mod.As(session(ann)).SetTelegramName(ctx, bob.ID, "bob_tg")
		require.NoError(t, err)
		assert.True(t, changed)
		// Not with a token: the email is where reset links go.
		token := &auth.Principal{UserID: bob.ID, Kind: auth.KindAPIToken, TokenID: 7}
		_, err = e.mod.As(token).SetEmail(ctx, bob.ID, "mallory@example.com")
		assert.Equal(t, users.ErrForbidden, reason(t, err))

		// The admin's operations, and the rules that depend on who acts.
		asAnn := e.mod.As(session(ann))
		changed, err = asAnn.Rename(ctx, bob.ID, "Robert")
		require.NoError(t, err)
		assert.True(t, changed)
		_, err = asAnn.SetEnabled(ctx, ann.ID, false)
		assert.Equal(t, users.ErrForbidden, reason(t, err), "not yourself")
		_, err = asAnn.UpdatePermissions(ctx, bob.ID, map[string]bool{"billing": true})
		assert.Equal(t, users.ErrForbidden, reason(t, err), "not what ann does not hold")
		_, err = asAnn.SetEnabled(ctx, 999, false)
		assert.Equal(t, users.ErrNotFound, reason(t, err))

		u, err := e.mod.Lookup(ctx, bob.ID)
		require.NoError(t, err)
		assert.Equal(t, "robert", u.Name)
		assert.Equal(t, "bob@example.com", u.Email)
		assert.Equal(t, "bob_tg", u.TelegramName)
	})
}

// The host's operations added beside the first ones: they act as root, and
// the callers they change see it on their next call.
func TestMoreChangesFromGo(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		u, _, err := e.mod.Create(ctx, users.NewUser{Username: "dave", Password: "dave-password"})
		require.NoError(t, err)
		tok := e.signin(t, "dave", "dave-password")

		require.NoError(t, e.mod.UpdatePermissions(ctx, u.ID, map[string]bool{"admin": true}))
		e.ok(t, tok, "/v1/admin/users/read")
		require.NoError(t, e.mod.UpdatePermissions(ctx, u.ID, map[string]bool{"billing": true}))
		got, err := e.mod.Lookup(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, map[string]bool{"admin": true, "billing": true, "reports": true}, e.mod.Permissions(got), "merged")

		require.NoError(t, e.mod.SetEmail(ctx, u.ID, "Dave@Example.com"))
		require.NoError(t, e.mod.SetTelegramName(ctx, u.ID, "@Dave_TG"))
		var p userRec
		e.ok(t, tok, "/v1/profile/read").Decode(t, &p)
		require.NotNil(t, p.Email)
		assert.Equal(t, "dave@example.com", *p.Email)
		require.NotNil(t, p.TelegramName)
		assert.Equal(t, "dave_tg", *p.TelegramName)

		require.NoError(t, e.mod.Rename(ctx, u.ID, "david"))
		e.signin(t, "david", "dave-password")
		assert.Equal(t, users.ErrForbidden, reason(t, e.mod.Rename(ctx, auth.RootUserID, "admin")))
		assert.Equal(t, users.ErrInvalid, reason(t, e.mod.SetEmail(ctx, u.ID, "not mail")))
		assert.Equal(t, users.ErrNotFound, reason(t, e.mod.Rename(ctx, 999, "ghost")))
	})
}
