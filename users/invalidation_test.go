package users_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// Each case first makes sure the victim's principal is cached (a call
// succeeds), then changes the user, then calls again at once: the cache must
// not answer with the old principal.

func TestDisabledUserIsRefusedOnTheNextCall(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.ok(t, s.userTok, "/v1/profile/read")
		e.ok(t, s.adminTok, "/v1/admin/users/set-password", "bob", "another-password")
		e.refused(t, rpc.CodeInsufficientPermissions, s.userTok, "/v1/profile/read")
	})
}

// Every change that drops a user's cached callers says whether it ends
// their credentials' authority, which closes their open sockets, or only
// refreshes what is known of them (auth.Invalidation.Refresh): an email or
// a telegram name changes nothing a credential may do.
func TestInvalidationsSayWhetherTheyEnd(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		var mu sync.Mutex
		var seen []auth.Invalidation
		e.reg.Auth().OnInvalidate(func(inv auth.Invalidation) {
			mu.Lock()
			seen = append(seen, inv)
			mu.Unlock()
		})
		bob, err := strconv.ParseInt(s.user.ID, 10, 64)
		require.NoError(t, err)
		for _, c := range []struct {
			token, method string
			params        []any
			refresh       bool
		}{
			{s.userTok, "/v1/profile/set-email", []any{"bob@example.com"}, true},
			{s.userTok, "/v1/profile/set-email", nil, true},
			{s.userTok, "/v1/profile/set-telegram-username", []any{"bob_tg"}, true},
			{s.adminTok, "/v1/admin/users/update-permissions", []any{"bob", map[string]bool{"billing": false, "reports": false}}, false},
			{s.adminTok, "/v1/admin/users/set-permissions", []any{"bob", map[string]bool{"reports": true}}, false},
			{s.adminTok, "/v1/admin/users/set-username", []any{"bob", "robert"}, false},
			{s.adminTok, "/v1/admin/users/set-password", []any{"robert", "bob-password-2"}, false},
			{s.adminTok, "/v1/admin/users/set-enabled", []any{"robert", false}, false},
			{s.adminTok, "/v1/admin/users/delete", []any{"robert"}, false},
		} {
			mu.Lock()
			seen = nil
			mu.Unlock()
			e.ok(t, c.token, c.method, c.params...)
			mu.Lock()
			assert.Equal(t, []auth.Invalidation{{UserID: bob, Refresh: c.refresh}}, seen, "%s %v", c.method, c.params)
			mu.Unlock()
		}

		mu.Lock()
		seen = nil
		mu.Unlock()
		e.ok(t, s.adminTok, "/v1/session/signout")
		mu.Lock()
		require.Len(t, seen, 1)
		assert.False(t, seen[0].Refresh, "a signout ends the session")
		mu.Unlock()
	})
}
