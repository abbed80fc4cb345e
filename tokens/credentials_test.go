package tokens_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// grantedToken makes a token of the bearer of session holding perms.
func (e *env) grantedToken(t *testing.T, session, name string, perms map[string]bool) tokenRec {
	t.Helper()
	tok := e.newToken(t, session, name)
	e.ok(t, session, "/v1/api-tokens/set-permissions", tok.ID, perms)
	return tok
}

// signinFails requires that name and password do not sign in.
func (e *env) signinFails(t *testing.T, name, password string) {
	t.Helper()
	a := e.call(t, "", "/v1/session/signin", map[string]string{"username": name, "password": password})
	require.Equal(t, 401, a.Code, "%s must not sign in with %q: %s", name, password, a.Raw)
}

// The attack: a token granted admin sets its own user's password,
// signs in with it and so holds a session that outlives the token's
// revocation and locks the owner out. Every credential of the token's own
// user (password, name, email) is out of a token's reach.
func TestTokenCannotChangeItsOwnCredentials(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		// The token holds all that ann holds: it is an admin token.
		tok := e.grantedToken(t, c.ann, "stolen", map[string]bool{"admin": true, "reports": true})
		e.ok(t, tok.Token, "/v1/admin/users/read")

		for _, call := range [][]any{
			{"/v1/admin/users/set-password", "ann", "attacker-password"},
			{"/v1/admin/users/set-password", c.annID, "attacker-password"},
			{"/v1/admin/users/set-password", "ann"}, // a generated one, answered
			{"/v1/admin/users/set-username", "ann", "annie"},
			{"/v1/admin/users/set-username", "ann", "ann", "attacker-password"},
			{"/v1/admin/users/set-username", c.annID, "annie", "attacker-password"},
			{"/v1/profile/set-email", "attacker@example.com"},
			{"/v1/profile/set-email"}, // clearing it is a change too
		} {
			a := e.refused(t, 403, tok.Token, call[0].(string), call[1:]...)
			assert.Contains(t, a.Message, "API token", "%v: the message says why: %s", call, a.Raw)
		}

		e.signinFails(t, "ann", "attacker-password")
		e.signinFails(t, "annie", "attacker-password")
		e.signin(t, "ann", "ann-password") // the owner is not locked out
		e.ok(t, c.ann, "/v1/profile/read") // and her session lives
		var p struct {
			Name  string  `json:"name"`
			Email *string `json:"email"`
		}
		e.ok(t, c.ann, "/v1/profile/read").Decode(t, &p)
		assert.Equal(t, "ann", p.Name)
		assert.Nil(t, p.Email)

		// A plain user's token may not set the email either: it is what a
		// password reset by mail goes to.
		bobs := e.grantedToken(t, c.bob, "bob's", map[string]bool{"reports": true})
		e.refused(t, 403, bobs.Token, "/v1/profile/set-email", "attacker@example.com")

		// The telegram name signs nobody in: a token may set it.
		e.ok(t, tok.Token, "/v1/profile/set-telegram-username", "ann_tg")
	})
}

// The attack on root: root's token, given admin, sets root's
// password (or name) and signs in as root. Root's tokens are not root.
func TestRootTokenCannotChangeRootCredentials(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		tok := e.grantedToken(t, c.root, "root's", map[string]bool{"admin": true, "billing": true, "reports": true})
		e.ok(t, tok.Token, "/v1/admin/users/read")
		for _, call := range [][]any{
			{"/v1/admin/users/set-password", "root", "attacker-password"},
			{"/v1/admin/users/set-password", "1", "attacker-password"},
			{"/v1/admin/users/set-password", "root"},
			{"/v1/admin/users/set-username", "root", "root", "attacker-password"},
			{"/v1/admin/users/set-username", "root", "groot"},
			{"/v1/profile/set-email", "attacker@example.com"},
		} {
			e.refused(t, 403, tok.Token, call[0].(string), call[1:]...)
		}
		e.signinFails(t, "root", "attacker-password")
		e.signin(t, "root", rootPassword)

		// An admin's token may not reach root's either.
		annTok := e.grantedToken(t, c.ann, "ann's", map[string]bool{"admin": true})
		e.refused(t, 403, annTok.Token, "/v1/admin/users/set-password", "root", "attacker-password")
		e.signinFails(t, "root", "attacker-password")
	})
}

// What a token may still do, decided and documented: it administers other
// users as its permissions allow, passwords included (the session it could
// gain holds no more than the token, and the user's own recovery ends it).
func TestTokenAdministersOtherUsers(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		tok := e.grantedToken(t, c.ann, "provisioning", map[string]bool{"admin": true, "reports": true})
		e.ok(t, tok.Token, "/v1/admin/users/set-password", "bob", "bob-new-password")
		e.signin(t, "bob", "bob-new-password")
		e.ok(t, tok.Token, "/v1/admin/users/set-username", "bob", "robert")
		e.ok(t, tok.Token, "/v1/admin/users/create", map[string]any{"username": "carol", "password": "carol-password"})
		e.signin(t, "carol", "carol-password")
		// Root's token administers others alike, within its own grants.
		rootTok := e.grantedToken(t, c.root, "root's", map[string]bool{"admin": true, "reports": true})
		e.ok(t, rootTok.Token, "/v1/admin/users/set-password", "carol", "carol-password-2")
		e.ok(t, c.root, "/v1/admin/users/update-permissions", "carol", map[string]bool{"billing": true})
		a := e.refused(t, 403, rootTok.Token, "/v1/admin/users/set-password", "carol", "carol-password-3")
		assert.Contains(t, a.Message, `"billing"`)
	})
}
