package users_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/users"
)

// reason is why an operation was refused: the Reason of the *users.Error
// it returned.
func reason(t *testing.T, err error) error {
	t.Helper()
	var e *users.Error
	require.True(t, errors.As(err, &e), "not a *users.Error: %v", err)
	require.ErrorIs(t, err, e.Reason)
	return e.Reason
}

func TestCreateAndFindFromGo(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		u, generated, err := e.mod.Create(ctx, users.NewUser{Username: "Alice", Password: "correct horse", Email: "Alice@Example.com",
			Permissions: map[string]bool{"billing": true}})
		require.NoError(t, err)
		assert.Empty(t, generated)
		assert.Equal(t, "alice", u.Name)
		assert.Equal(t, "alice@example.com", u.Email)
		assert.True(t, u.Enabled)
		assert.Equal(t, map[string]bool{"billing": true, "reports": true}, e.mod.Permissions(u), "the defaults, overlaid")
		e.signin(t, "alice", "correct horse")

		byName, err := e.mod.FindByName(ctx, "ALICE")
		require.NoError(t, err)
		assert.Equal(t, u.ID, byName.ID)
		byEmail, err := e.mod.FindByEmail(ctx, "alice@EXAMPLE.com")
		require.NoError(t, err)
		assert.Equal(t, u.ID, byEmail.ID)
		byID, err := e.mod.Lookup(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, u.Name, byID.Name)
		_, err = e.mod.FindByName(ctx, "nobody")
		assert.ErrorIs(t, err, users.ErrNotFound)
		_, err = e.mod.FindByEmail(ctx, "nobody@example.com")
		assert.ErrorIs(t, err, users.ErrNotFound)

		// A generated password signs in; a disabled user cannot.
		bob, pw, err := e.mod.Create(ctx, users.NewUser{Username: "bob", Disabled: true})
		require.NoError(t, err)
		require.NotEmpty(t, pw)
		assert.False(t, bob.Enabled)
		e.refused(t, rpc.CodeUnauthorized, "", "/v1/session/signin", map[string]string{"username": "bob", "password": pw})
		require.NoError(t, e.mod.SetEnabled(ctx, bob.ID, true))
		e.signin(t, "bob", pw)
	})
}

func TestCreateFromGoKeepsTheAPIsRules(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		before := e.snapshot(t)
		for _, nu := range []users.NewUser{
			{Username: "ab", Password: "long enough"},                       // too short a name
			{Username: "12345", Password: "long enough"},                    // all digits
			{Username: "carol", Password: "short"},                          // too short a password
			{Username: "carol", Password: "long enough", Email: "not mail"}, // a bad email
			{Username: "carol", Password: "long enough", Permissions: map[string]bool{"undeclared": true}},
		} {
			_, _, err := e.mod.Create(ctx, nu)
			require.Error(t, err, "%+v", nu)
			assert.Equal(t, users.ErrInvalid, reason(t, err), "%+v", nu)
		}
		assert.Equal(t, before, e.snapshot(t), "nothing stored")
		_, _, err := e.mod.Create(ctx, users.NewUser{Username: "root", Password: "long enough"})
		assert.Equal(t, users.ErrConflict, reason(t, err))
	})
}

func TestChangesFromGoEndSessionsAndCaches(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		u, _, err := e.mod.Create(ctx, users.NewUser{Username: "dave", Password: "first password"})
		require.NoError(t, err)
		tok := e.signin(t, "dave", "first password")
		e.ok(t, tok, "/v1/profile/read") // cached now

		// Permissions: replaced, and the cached caller sees them at once.
		e.refused(t, rpc.CodeInsufficientPermissions, tok, "/v1/admin/users/read")
		require.NoError(t, e.mod.SetPermissions(ctx, u.ID, map[string]bool{"admin": true}))
		e.ok(t, tok, "/v1/admin/users/read")
		assert.Equal(t, users.ErrInvalid, reason(t, e.mod.SetPermissions(ctx, u.ID, map[string]bool{"nope": true})), "an undeclared name, as the API answers it")

		// A new password ends the session; a short one is refused.
		assert.Equal(t, users.ErrInvalid, reason(t, e.mod.SetPassword(ctx, u.ID, "short")))
		e.ok(t, tok, "/v1/profile/read")
		require.NoError(t, e.mod.SetPassword(ctx, u.ID, "second password"))
		e.refused(t, rpc.CodeInsufficientPermissions, tok, "/v1/profile/read")
		tok = e.signin(t, "dave", "second password")

		// Disabling ends the session.
		require.NoError(t, e.mod.SetEnabled(ctx, u.ID, false))
		e.refused(t, rpc.CodeInsufficientPermissions, tok, "/v1/profile/read")

		require.NoError(t, e.mod.Delete(ctx, u.ID))
		_, err = e.mod.Lookup(ctx, u.ID)
		assert.ErrorIs(t, err, users.ErrNotFound)
		assert.ErrorIs(t, e.mod.SetEnabled(ctx, u.ID, true), users.ErrNotFound)
		assert.ErrorIs(t, e.mod.Delete(ctx, u.ID), users.ErrNotFound)
	})
}

func TestRootIsProtectedFromGo(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		assert.Equal(t, users.ErrForbidden, reason(t, e.mod.Delete(ctx, auth.RootUserID)))
		assert.Equal(t, users.ErrForbidden, reason(t, e.mod.SetEnabled(ctx, auth.RootUserID, false)))
		assert.Equal(t, users.ErrForbidden, reason(t, e.mod.SetPermissions(ctx, auth.RootUserID, map[string]bool{})))
		tok := e.root(t)
		// The host may set root's password (it sets the first one at Mount): root's sessions end.
		require.NoError(t, e.mod.SetPassword(ctx, auth.RootUserID, "a new root password"))
		e.refused(t, rpc.CodeInsufficientPermissions, tok, "/v1/profile/read")
		e.signin(t, "root", "a new root password")
	})
}

func TestHooks(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		var mu sync.Mutex
		var got []string
		hook := func(what string) users.UserFunc {
			return func(ctx context.Context, u *users.User) {
				mu.Lock()
				got = append(got, what+" "+u.Name)
				mu.Unlock()
			}
		}
		e.mod.OnSignup(hook("signup"))
		e.mod.OnSignin(hook("signin"))
		e.mod.OnDelete(hook("delete"))

		e.ok(t, "", "/v1/session/signup", map[string]string{"username": "erin", "password": "erin's password"})
		e.signin(t, "erin", "erin's password")
		e.refused(t, rpc.CodeUnauthorized, "", "/v1/session/signin", map[string]string{"username": "erin", "password": "wrong password"})
		u, err := e.mod.FindByName(context.Background(), "erin")
		require.NoError(t, err)
		e.ok(t, e.root(t), "/v1/admin/users/delete", u.Name)
		f, _, err := e.mod.Create(context.Background(), users.NewUser{Username: "frank"})
		require.NoError(t, err)
		require.NoError(t, e.mod.Delete(context.Background(), f.ID))
		assert.Equal(t, []string{"signup erin", "signin erin", "signin root", "delete erin", "delete frank"}, got)
	}, openSignup)
}
