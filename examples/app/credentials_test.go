package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/mailer/mailertest"
)

// issue 11, items 2 and 3, as the attacker tried them on the example app:
// an admin token sets its own user's password (root's token root's) and
// signs in with it; a password reset leaves the tokens made before it
// working. Neither holds now.
func TestTokenCredentialAttacks(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		const rootPass = "root-password-for-tests"
		root := a.signin(t, "root", rootPass)
		r := a.call(t, root, "/v1/admin/users/create", `[{"username":"ann","password":"ann-password","permissions":{"admin":true}}]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		ann := a.signin(t, "ann", "ann-password")

		adminToken := func(session string) string {
			r := a.call(t, session, "/v1/api-tokens/create", `["stolen"]`)
			require.Equal(t, 200, r.HTTP, r.Raw)
			var tok struct{ ID, Token string }
			require.NoError(t, json.Unmarshal(r.Result.Data, &tok))
			require.Equal(t, 200, a.call(t, session, "/v1/api-tokens/set-permissions", `["`+tok.ID+`", {"admin": true}]`).code())
			require.Equal(t, 200, a.call(t, tok.Token, "/v1/admin/users/read", ``).code())
			return tok.Token
		}
		signin := func(name, password string) int {
			return a.call(t, "", "/v1/session/signin", `[{"username":"`+name+`","password":"`+password+`"}]`).code()
		}

		annTok, rootTok := adminToken(ann), adminToken(root)
		for _, c := range []struct{ token, method, params string }{
			{annTok, "/v1/admin/users/set-password", `["ann", "attacker-password"]`},
			{annTok, "/v1/admin/users/set-username", `["ann", "ann", "attacker-password"]`},
			{annTok, "/v1/profile/set-email", `["attacker@example.com"]`},
			{rootTok, "/v1/admin/users/set-password", `["root", "attacker-password"]`},
			{rootTok, "/v1/admin/users/set-password", `["1"]`},
			{rootTok, "/v1/profile/set-email", `["attacker@example.com"]`},
		} {
			r := a.call(t, c.token, c.method, c.params)
			assert.Equal(t, 403, r.code(), "%s %s: %s", c.method, c.params, r.Raw)
		}
		assert.Equal(t, 401, signin("ann", "attacker-password"))
		assert.Equal(t, 401, signin("root", "attacker-password"))

		// Recovery: root sets ann's password; ann's token and session end.
		require.Equal(t, 200, a.call(t, root, "/v1/admin/users/set-password", `["ann", "ann-new-password"]`).code())
		assert.Equal(t, -32801, a.call(t, annTok, "/v1/profile/read", ``).code(), "the token made before the reset")
		assert.Equal(t, -32801, a.call(t, ann, "/v1/profile/read", ``).code(), "the session made before the reset")
		assert.Equal(t, 200, signin("ann", "ann-new-password"))
	})
}

// The same takeover by way of the settings: an admin token points SMTP at
// its holder's server, asks for its own user's password reset and reads
// the link there. A token may not change where mail goes.
func TestTokenCannotRedirectResetMail(t *testing.T) {
	t.Parallel()
	eachMail(t, func(t *testing.T, m *mailApp) {
		m.ok(t, m.admin, "/v1/profile/set-email", `["admin1@example.com"]`)
		r := m.ok(t, m.admin, "/v1/api-tokens/create", `["stolen"]`)
		var tok struct{ ID, Token string }
		require.NoError(t, json.Unmarshal(r.Result.Data, &tok))
		m.ok(t, m.admin, "/v1/api-tokens/set-permissions", `["`+tok.ID+`", {"admin": true}]`)
		m.ok(t, tok.Token, "/v1/admin/settings/read", ``)

		evil := mailertest.NewServer(t, mailertest.Options{})
		for _, body := range []string{
			fmt.Sprintf(`[{"smtp_hostname":%q,"smtp_port":%d,"smtp_username":"","smtp_password":""}]`, evil.Host, evil.Port),
			fmt.Sprintf(`[{"smtp_port":%d}]`, evil.Port),
			`[{"app_url":"https://attacker.example"}]`,
			`[{"smtp_username":"attacker"}]`,
			`[{"smtp_password":"x"}]`,
		} {
			r := m.call(t, tok.Token, "/v1/admin/settings/update", body)
			assert.Equal(t, 403, r.code(), "%s: %s", body, r.Raw)
		}
		// What does not route mail stays within the token's reach.
		m.ok(t, tok.Token, "/v1/admin/settings/update", `[{"signup_enabled":true}]`)

		m.ok(t, "", "/v1/session/send-password-reset-email", `["admin1"]`)
		m.srv.Wait(t, 1, 5*time.Second) // to the real server, as configured
		assert.Empty(t, evil.Messages(), "nothing reached the attacker's server")
	})
}
