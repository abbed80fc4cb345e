package users_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Every refusal of SPEC §4, one test each. Each checks the code, that the
// message says why, and that nothing was stored.

// refuse calls as token and requires a 403 (or code) that changed nothing.
func (s *staffed) refuse(t *testing.T, code int, token, contains, method string, params ...any) {
	t.Helper()
	before := s.snapshot(t)
	a := s.refused(t, code, token, method, params...)
	assert.Contains(t, a.Message, contains)
	assert.Equal(t, before, s.snapshot(t), "a refused call stores nothing")
}

func TestRefuseDeleteRoot(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		s.refuse(t, 403, s.adminTok, "root user cannot be deleted", "/v1/admin/users/delete", "root")
		s.refuse(t, 403, s.rootTok, "root user cannot be deleted", "/v1/admin/users/delete", "1")
	})
}

func TestRefuseDisableRoot(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		s.refuse(t, 403, s.adminTok, "root user cannot be disabled", "/v1/admin/users/set-enabled", "root", false)
		s.refuse(t, 403, s.rootTok, "root user cannot be disabled", "/v1/admin/users/set-enabled", "1", false)
		s.refuse(t, 403, s.rootTok, "root user cannot be disabled", "/v1/admin/users/set-enabled", "root", true)
	})
}

func TestRefuseRenameRoot(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		s.refuse(t, 403, s.adminTok, "root user's name cannot be changed", "/v1/admin/users/set-username", "root", "groot")
		s.refuse(t, 403, s.rootTok, "root user's name cannot be changed", "/v1/admin/users/set-username", "1", "groot", "new-password-1")
	})
}

func TestRefuseChangeRootPermissions(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		s.refuse(t, 403, s.adminTok, "root user's permissions cannot be changed", "/v1/admin/users/set-permissions", "root", map[string]bool{})
		s.refuse(t, 403, s.adminTok, "root user's permissions cannot be changed", "/v1/admin/users/update-permissions", "root", map[string]bool{"admin": false})
		s.refuse(t, 403, s.rootTok, "root user's permissions cannot be changed", "/v1/admin/users/update-permissions", "1", map[string]bool{"billing": false})
	})
}

func TestRefuseRootPasswordByOthers(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		s.refuse(t, 403, s.adminTok, "only root may set root's password", "/v1/admin/users/set-password", "root", "new-root-password")
		s.refuse(t, 403, s.adminTok, "only root may set root's password", "/v1/admin/users/set-password", "1")
		// Root may.
		s.ok(t, s.rootTok, "/v1/admin/users/set-password", "root", "new-root-password")
	})
}

func TestRefuseDeleteSelf(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		s.refuse(t, 403, s.adminTok, "you cannot delete yourself", "/v1/admin/users/delete", "ann")
		s.refuse(t, 403, s.adminTok, "you cannot delete yourself", "/v1/admin/users/delete", s.admin.ID)
	})
}

func TestRefuseDisableSelf(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		s.refuse(t, 403, s.adminTok, "you cannot disable yourself", "/v1/admin/users/set-enabled", "ann", false)
	})
}

func TestRefuseChangeOwnPermissions(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		s.refuse(t, 403, s.adminTok, "you cannot change your own permissions", "/v1/admin/users/update-permissions", "ann", map[string]bool{"reports": false})
		s.refuse(t, 403, s.adminTok, "you cannot change your own permissions", "/v1/admin/users/set-permissions", "ann", map[string]bool{"admin": true})
	})
}

func TestRefuseGrantUnheldPermission(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		s.refuse(t, 403, s.adminTok, `you may not grant permission "billing": you do not hold it`,
			"/v1/admin/users/update-permissions", "bob", map[string]bool{"billing": true})
		s.refuse(t, 403, s.adminTok, `you may not grant permission "billing"`,
			"/v1/admin/users/set-permissions", "bob", map[string]bool{"billing": true, "admin": true})
		// Granting what it holds is fine.
		s.ok(t, s.adminTok, "/v1/admin/users/update-permissions", "bob", map[string]bool{"admin": true})
	})
}

func TestRefuseRevokeUnheldPermission(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		s.ok(t, s.rootTok, "/v1/admin/users/update-permissions", "bob", map[string]bool{"billing": true})
		s.refuse(t, 403, s.adminTok, `you may not revoke permission "billing": you do not hold it`,
			"/v1/admin/users/update-permissions", "bob", map[string]bool{"billing": false})
		// A replace that leaves billing out revokes it too.
		s.refuse(t, 403, s.adminTok, `you may not revoke permission "billing"`,
			"/v1/admin/users/set-permissions", "bob", map[string]bool{"reports": true})
		// Leaving it as it is, is not a change.
		s.ok(t, s.adminTok, "/v1/admin/users/set-permissions", "bob", map[string]bool{"billing": true, "admin": true})
	})
}

func TestRefuseCreateWithUnheldPermission(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		s.refuse(t, 403, s.adminTok, `you may not grant permission "billing"`,
			"/v1/admin/users/create", map[string]any{"username": "carol", "permissions": map[string]bool{"billing": true}})
		// Withholding a default is revoking it; getting the defaults is not a grant.
		s.ok(t, s.rootTok, "/v1/admin/users/update-permissions", "ann", map[string]bool{"reports": false})
		s.refuse(t, 403, s.adminTok, `you may not revoke permission "reports"`,
			"/v1/admin/users/create", map[string]any{"username": "carol", "permissions": map[string]bool{"reports": false}})
		s.ok(t, s.adminTok, "/v1/admin/users/create", map[string]any{"username": "carol"})
	})
}

func TestRefuseUndeclaredPermission(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		s.refuse(t, 400, s.rootTok, `permission "superpowers" is not declared`,
			"/v1/admin/users/update-permissions", "bob", map[string]bool{"superpowers": true})
		s.refuse(t, 400, s.rootTok, `permission "superpowers" is not declared`,
			"/v1/admin/users/set-permissions", "bob", map[string]bool{"superpowers": false})
		s.refuse(t, 400, s.rootTok, `permission "superpowers" is not declared`,
			"/v1/admin/users/create", map[string]any{"username": "carol", "permissions": map[string]bool{"superpowers": true}})
	})
}

// Setting the password of a user who holds more than the caller would let
// the caller sign in as them: the general form of "only root sets root's
// password".
func TestRefuseTakeOverMorePrivilegedUser(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		s.ok(t, s.rootTok, "/v1/admin/users/update-permissions", "bob", map[string]bool{"billing": true})
		s.refuse(t, 403, s.adminTok, `they hold permission "billing", which you do not`,
			"/v1/admin/users/set-password", "bob", "new-bob-password")
		s.refuse(t, 403, s.adminTok, `they hold permission "billing", which you do not`,
			"/v1/admin/users/set-username", "bob", "bobby", "new-bob-password")
		// Renaming alone is no takeover.
		s.ok(t, s.adminTok, "/v1/admin/users/set-username", "bob", "bobby")
	})
}
