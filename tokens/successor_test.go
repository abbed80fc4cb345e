package tokens_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc/rpctest"
)

// The attack: a leaked admin token mints a successor, a user holding
// admin whose session outlives the token's revocation, and that session
// resets the token owner's password. Three ways to the successor: create a
// user with admin, grant admin to a user the token made, or set the
// password of a user who holds admin already. A call made with an API token
// does none of them; sessions still may.
func TestTokenCannotMintASuccessor(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		e.createUser(t, c.root, "dave", "dave-password", map[string]bool{"admin": true})
		tok := e.grantedToken(t, c.ann, "leaked", map[string]bool{"admin": true, "reports": true})

		// takeOver is the rest of the attack: the successor signs in and
		// sets ann's password. It runs only where a step was let through.
		takeOver := func(name, password string) {
			a := e.call(t, "", "/v1/session/signin", map[string]string{"username": name, "password": password})
			if a.Code != 200 {
				return
			}
			var s struct{ Token string }
			a.Decode(t, &s)
			e.call(t, s.Token, "/v1/admin/users/set-password", "ann", "attacker-password")
		}
		refusedWhy := func(a *rpctest.Answer, what string) {
			t.Helper()
			assert.Equal(t, 403, a.Code, "%s: %s", what, a.Raw)
			assert.Contains(t, a.Message, "API token", "%s: the message says why", what)
		}

		// 1. A user created with admin.
		a := e.call(t, tok.Token, "/v1/admin/users/create", map[string]any{
			"username": "mallory", "password": "mallory-password", "permissions": map[string]bool{"admin": true},
		})
		refusedWhy(a, "create with admin")
		takeOver("mallory", "mallory-password")

		// 2. A user created with the defaults, then given admin.
		a = e.call(t, tok.Token, "/v1/admin/users/create", map[string]any{"username": "trudy", "password": "trudy-password"})
		require.Equal(t, 200, a.Code, "a token still creates users with the defaults: %s", a.Raw)
		for _, method := range []string{"/v1/admin/users/set-permissions", "/v1/admin/users/update-permissions"} {
			a = e.call(t, tok.Token, method, "trudy", map[string]bool{"admin": true, "reports": true})
			refusedWhy(a, method)
			takeOver("trudy", "trudy-password")
		}

		// 3. An admin who exists already, given a password the token knows.
		for _, call := range [][]any{
			{"/v1/admin/users/set-password", "dave", "known-password"},
			{"/v1/admin/users/set-username", "dave", "dave", "known-password"},
		} {
			a = e.call(t, tok.Token, call[0].(string), call[1:]...)
			refusedWhy(a, call[0].(string))
			takeOver("dave", "known-password")
		}

		e.signinFails(t, "ann", "attacker-password")
		e.signin(t, "ann", "ann-password") // the owner is not locked out
		e.signinFails(t, "mallory", "mallory-password")
		e.signin(t, "dave", "dave-password")

		// What a token may still do: revoke, and grant nothing new.
		e.ok(t, c.ann, "/v1/admin/users/update-permissions", "trudy", map[string]bool{"admin": true}) // a session grants
		e.ok(t, tok.Token, "/v1/admin/users/update-permissions", "trudy", map[string]bool{"admin": false})
		e.ok(t, tok.Token, "/v1/admin/users/create", map[string]any{"username": "carol", "permissions": map[string]bool{"reports": true}})
		e.ok(t, tok.Token, "/v1/admin/users/create", map[string]any{"username": "erin", "permissions": map[string]bool{"reports": false}})
		e.refused(t, 403, tok.Token, "/v1/admin/users/update-permissions", "carol", map[string]bool{"reports": false, "admin": true})
		// Minting tokens from a token was refused before: it would outlive the leaked one too.
		e.refused(t, 403, tok.Token, "/v1/api-tokens/create", "successor")
		e.refused(t, 403, tok.Token, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"admin": true})
	})
}
