package users_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc"
)

// Each case first makes sure the victim's principal is cached (a call
// succeeds), then changes the user, then calls again at once: the cache must
// not answer with the old principal.

func TestDisabledUserIsRefusedOnTheNextCall(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.ok(t, s.userTok, "/v1/profile/read")
		require.Positive(t, e.reg.Auth().Len(), "the principal is cached")
		e.ok(t, s.adminTok, "/v1/admin/users/set-enabled", "bob", false)
		e.refused(t, rpc.CodeInsufficientPermissions, s.userTok, "/v1/profile/read")
		e.refused(t, 401, s.userTok, "/v1/session/signin")
	})
}

func TestDeletedUserIsRefusedOnTheNextCall(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.ok(t, s.userTok, "/v1/profile/read")
		e.ok(t, s.adminTok, "/v1/admin/users/delete", "bob")
		e.refused(t, rpc.CodeInsufficientPermissions, s.userTok, "/v1/profile/read")
		assert.Equal(t, 2, e.count(t, "user_sessions"), "the deleted user's sessions are gone")
		e.refused(t, 404, s.adminTok, "/v1/admin/users/get-permissions", "bob")
		_, err := e.mod.Lookup(t.Context(), mustID(t, s.user.ID))
		assert.Error(t, err)
	})
}

func TestRevokedPermissionIsRefusedOnTheNextCall(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.ok(t, s.adminTok, "/v1/admin/users/read")
		e.ok(t, s.rootTok, "/v1/admin/users/update-permissions", "ann", map[string]bool{"admin": false})
		e.refused(t, rpc.CodeInsufficientPermissions, s.adminTok, "/v1/admin/users/read")

		// And granted: allowed on the next call.
		e.refused(t, rpc.CodeInsufficientPermissions, s.userTok, "/v1/admin/users/read")
		e.ok(t, s.rootTok, "/v1/admin/users/set-permissions", "bob", map[string]bool{"admin": true})
		e.ok(t, s.userTok, "/v1/admin/users/read")
	})
}

func TestChangedPasswordEndsSessionsOnTheNextCall(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.ok(t, s.userTok, "/v1/profile/read")
		e.ok(t, s.adminTok, "/v1/admin/users/set-password", "bob", "another-password")
		e.refused(t, rpc.CodeInsufficientPermissions, s.userTok, "/v1/profile/read")
	})
}
