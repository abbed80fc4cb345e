package tokens_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc"
)

// The check, end to end: a user makes a token, gives it a
// permission, calls an admin method with it, loses the permission or
// disables the token and is refused on the next call; another user cannot
// see or touch it.
func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		tok := e.newToken(t, c.ann, "deploy bot")
		assert.Equal(t, "deploy bot", tok.Name)
		assert.True(t, tok.Enabled)
		assert.Equal(t, map[string]bool{"admin": false, "billing": false, "reports": false}, tok.Permissions, "a new token holds nothing")

		// It authenticates as ann, but holds nothing yet.
		w := e.whoami(t, tok.Token)
		assert.Equal(t, "ann", w.Auth.Username)
		assert.Equal(t, c.annID, w.Auth.UserID)
		e.refused(t, rpc.CodeInsufficientPermissions, tok.Token, "/v1/admin/users/read")

		e.ok(t, c.ann, "/v1/api-tokens/update-permissions", tok.ID, map[string]bool{"admin": true})
		e.ok(t, tok.Token, "/v1/admin/users/read")

		// ann loses admin: the token is refused on its very next call.
		e.ok(t, c.root, "/v1/admin/users/update-permissions", "ann", map[string]bool{"admin": false})
		e.refused(t, rpc.CodeInsufficientPermissions, tok.Token, "/v1/admin/users/read")
		e.ok(t, tok.Token, "/v1/profile/read") // still ann, as a user

		// Given back: the token's own grant was kept, so it works again.
		e.ok(t, c.root, "/v1/admin/users/update-permissions", "ann", map[string]bool{"admin": true})
		e.ok(t, tok.Token, "/v1/admin/users/read")

		// Disabled: a guest on the next call; enabled: back.
		e.ok(t, c.ann, "/v1/api-tokens/set-enabled", tok.ID, false)
		e.refused(t, rpc.CodeInsufficientPermissions, tok.Token, "/v1/admin/users/read")
		e.refused(t, rpc.CodeInsufficientPermissions, tok.Token, "/v1/profile/read")
		e.ok(t, c.ann, "/v1/api-tokens/set-enabled", tok.ID, true)
		e.ok(t, tok.Token, "/v1/admin/users/read")

		// bob sees none of it and touches none of it: the answers are those
		// of an id that does not exist.
		var list []tokenRec
		e.ok(t, c.bob, "/v1/api-tokens/read").Decode(t, &list)
		assert.Empty(t, list)
		before := e.snapshot(t)
		for _, id := range []string{tok.ID, "999999"} {
			want := `token "` + id + `" not found`
			for _, call := range [][]any{
				{"/v1/api-tokens/get-permissions", id},
				{"/v1/api-tokens/set-enabled", id, false},
				{"/v1/api-tokens/set-permissions", id, map[string]bool{}},
				{"/v1/api-tokens/update-permissions", id, map[string]bool{"reports": true}},
				{"/v1/api-tokens/delete", id},
			} {
				a := e.refused(t, 404, c.bob, call[0].(string), call[1:]...)
				assert.Equal(t, want, a.Message)
			}
		}
		var filtered []tokenRec
		e.ok(t, c.bob, "/v1/api-tokens/read", map[string]any{"where": map[string]any{"id": tok.ID}}).Decode(t, &filtered)
		assert.Empty(t, filtered)
		assert.Equal(t, before, e.snapshot(t))
		e.ok(t, tok.Token, "/v1/admin/users/read")

		// Deleted: refused on the next call, and gone.
		e.ok(t, c.ann, "/v1/api-tokens/delete", tok.ID)
		e.refused(t, rpc.CodeInsufficientPermissions, tok.Token, "/v1/profile/read")
		e.refused(t, 404, c.ann, "/v1/api-tokens/delete", tok.ID)
		assert.Zero(t, e.countTokens(t, c.annID))
	})
}

// A token's effective permissions are its owner's intersected with its own.
func TestEffectivePermissions(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		// ann: admin, reports (the default).
		tok := e.newToken(t, c.ann, "reports only")
		e.ok(t, c.ann, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"reports": true})
		w := e.whoami(t, tok.Token)
		assert.Equal(t, map[string]bool{"admin": false, "billing": false, "reports": true}, w.Auth.Permissions)
		e.refused(t, rpc.CodeInsufficientPermissions, tok.Token, "/v1/admin/users/read")

		// A permission ann does not hold cannot be given (400, naming it),
		// by set or update, and nothing changes.
		before := e.snapshot(t)
		a := e.refused(t, 400, c.ann, "/v1/api-tokens/update-permissions", tok.ID, map[string]bool{"billing": true})
		assert.Contains(t, a.Message, `"billing"`)
		a = e.refused(t, 400, c.ann, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"admin": true, "billing": true})
		assert.Contains(t, a.Message, `"billing"`)
		a = e.refused(t, 400, c.ann, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"superuser": true})
		assert.Contains(t, a.Message, `"superuser"`)
		assert.Equal(t, before, e.snapshot(t))

		// ann loses reports: the token keeps its grant but may not use it.
		e.ok(t, c.root, "/v1/admin/users/update-permissions", "ann", map[string]bool{"reports": false})
		w = e.whoami(t, tok.Token)
		assert.Equal(t, map[string]bool{"admin": false, "billing": false, "reports": false}, w.Auth.Permissions)
		var states []permState
		e.ok(t, c.ann, "/v1/api-tokens/get-permissions", tok.ID).Decode(t, &states)
		assert.Equal(t, []permState{
			// SPEC §7a: id is the permission, name (as front ends read it)
			// its title.
			{ID: "admin", Name: "Administrator", Title: "Administrator", Description: "Manages users.", Enabled: false, UserEnabled: true},
			{ID: "billing", Name: "Billing", Title: "Billing", Description: "Sees invoices.", Enabled: false, UserEnabled: false},
			{ID: "reports", Name: "Reports", Title: "Reports", Description: "Reads reports.", Enabled: true, UserEnabled: false},
		}, states)
		// Keeping the grant is no new grant: allowed (and nothing changes);
		// revoking what ann lacks is allowed too.
		e.unchanged(t, c.ann, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"reports": true})
		e.ok(t, c.ann, "/v1/api-tokens/update-permissions", tok.ID, map[string]bool{"reports": false})
		a = e.refused(t, 400, c.ann, "/v1/api-tokens/update-permissions", tok.ID, map[string]bool{"reports": true})
		assert.Contains(t, a.Message, `"reports"`)
	})
}

type permState struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
	UserEnabled bool   `json:"user_enabled"`
}

// Root holds every permission, so its tokens may be given any; but a root
// token is not root: the root tag is not something a token can be given.
func TestRootTokens(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		tok := e.newToken(t, c.root, "root's")
		e.ok(t, c.root, "/v1/test/root-only")
		e.refused(t, rpc.CodeInsufficientPermissions, tok.Token, "/v1/test/root-only")
		e.refused(t, rpc.CodeInsufficientPermissions, tok.Token, "/v1/admin/users/read")

		e.ok(t, c.root, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"admin": true, "billing": true})
		w := e.whoami(t, tok.Token)
		assert.Equal(t, "root", w.Auth.Username)
		assert.Equal(t, map[string]bool{"admin": true, "billing": true, "reports": false}, w.Auth.Permissions)
		e.ok(t, tok.Token, "/v1/admin/users/read")
		e.refused(t, rpc.CodeInsufficientPermissions, tok.Token, "/v1/test/root-only")
	})
}

// Changing 'nothing' answers 204 and drops nothing.
func TestNothingChanged(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		tok := e.newToken(t, c.ann, "ci")
		e.unchanged(t, c.ann, "/v1/api-tokens/set-enabled", tok.ID, true)
		e.unchanged(t, c.ann, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{})
		e.unchanged(t, c.ann, "/v1/api-tokens/update-permissions", tok.ID, map[string]bool{})
		e.unchanged(t, c.ann, "/v1/api-tokens/update-permissions", tok.ID, map[string]bool{"admin": false, "billing": false})
		e.ok(t, c.ann, "/v1/api-tokens/update-permissions", tok.ID, map[string]bool{"admin": true})
		e.unchanged(t, c.ann, "/v1/api-tokens/update-permissions", tok.ID, map[string]bool{"admin": true})
		e.unchanged(t, c.ann, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"admin": true, "reports": false})
		e.ok(t, c.ann, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"reports": true})
		e.ok(t, c.ann, "/v1/api-tokens/set-enabled", tok.ID, false)
		e.unchanged(t, c.ann, "/v1/api-tokens/set-enabled", tok.ID, false)

		var list []tokenRec
		e.ok(t, c.ann, "/v1/api-tokens/read").Decode(t, &list)
		require.Len(t, list, 1)
		assert.False(t, list[0].Enabled)
		assert.Equal(t, map[string]bool{"admin": false, "billing": false, "reports": true}, list[0].Permissions)
	})
}

// An API token reads its owner's tokens, but cannot create or change any:
// a leaked token could otherwise mint a successor before it is disabled,
// or raise its own permissions up to its owner's.
func TestTokensCannotManageTokens(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		tok := e.newToken(t, c.ann, "ci")
		e.ok(t, c.ann, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"reports": true})
		before := e.snapshot(t)
		for _, call := range [][]any{
			{"/v1/api-tokens/create", "another"},
			{"/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"admin": true}},
			{"/v1/api-tokens/update-permissions", tok.ID, map[string]bool{"admin": true}},
			{"/v1/api-tokens/set-enabled", tok.ID, false},
			{"/v1/api-tokens/delete", tok.ID},
		} {
			e.refused(t, 403, tok.Token, call[0].(string), call[1:]...)
		}
		assert.Equal(t, before, e.snapshot(t))

		var list []tokenRec
		e.ok(t, tok.Token, "/v1/api-tokens/read").Decode(t, &list)
		require.Len(t, list, 1)
		assert.Equal(t, tok.ID, list[0].ID)
		var states []permState
		e.ok(t, tok.Token, "/v1/api-tokens/get-permissions", tok.ID).Decode(t, &states)
		assert.Len(t, states, 3)
		assert.True(t, states[0].UserEnabled, "the owner's permissions, not the token's")
	})
}
