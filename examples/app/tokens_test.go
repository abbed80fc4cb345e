package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// API tokens as a user of the example app meets them, over HTTP: ann makes
// a token, gives it admin and calls an admin method with it; losing admin
// or disabling the token refuses the very next call; bob can neither see
// nor touch it; bad input stores nothing; deleting ann ends the token.
func TestTokensModule(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		root := a.signin(t, "root", "root-password-for-tests")
		for _, body := range []string{
			`[{"username":"ann","password":"ann-password","permissions":{"admin":true}}]`,
			`[{"username":"bob","password":"bob-password"}]`,
		} {
			r := a.call(t, root, "/v1/admin/users/create", body)
			require.Equal(t, 200, r.HTTP, r.Raw)
		}
		ann := a.signin(t, "ann", "ann-password")
		bob := a.signin(t, "bob", "bob-password")

		r := a.call(t, ann, "/v1/api-tokens/create", `["deploy bot"]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		var tok struct {
			ID          string          `json:"id"`
			Token       string          `json:"token"`
			Permissions map[string]bool `json:"permissions"`
		}
		require.NoError(t, json.Unmarshal(r.Result.Data, &tok))
		require.True(t, strings.HasPrefix(tok.Token, "tok_"), r.Raw)
		assert.Equal(t, map[string]bool{"admin": false}, tok.Permissions)
		id := `"` + tok.ID + `"`

		assert.Equal(t, -32801, a.call(t, tok.Token, "/v1/admin/users/read", ``).code(), "a new token holds nothing")
		assert.Equal(t, 200, a.call(t, ann, "/v1/api-tokens/update-permissions", `[`+id+`, {"admin": true}]`).code())
		r = a.call(t, tok.Token, "/v1/admin/users/read", ``)
		require.Equal(t, 200, r.HTTP, r.Raw)

		// ann loses admin: refused on the next call; back: allowed.
		assert.Equal(t, 200, a.call(t, root, "/v1/admin/users/update-permissions", `["ann", {"admin": false}]`).code())
		assert.Equal(t, -32801, a.call(t, tok.Token, "/v1/admin/users/read", ``).code())
		assert.Equal(t, 200, a.call(t, root, "/v1/admin/users/update-permissions", `["ann", {"admin": true}]`).code())
		assert.Equal(t, 200, a.call(t, tok.Token, "/v1/admin/users/read", ``).code())

		// The token disabled: a guest on the next call.
		assert.Equal(t, 200, a.call(t, ann, "/v1/api-tokens/set-enabled", `[`+id+`, false]`).code())
		r = a.call(t, tok.Token, "/v1/profile/read", ``)
		assert.Equal(t, -32801, r.code(), r.Raw)
		assert.Equal(t, 401, r.HTTP)
		assert.Equal(t, 200, a.call(t, ann, "/v1/api-tokens/set-enabled", `[`+id+`, true]`).code())
		assert.Equal(t, 200, a.call(t, tok.Token, "/v1/admin/users/read", ``).code())

		// bob sees nothing of it and touches nothing of it; bad input stores
		// nothing; the list never holds the token.
		before := a.call(t, ann, "/v1/api-tokens/read", ``)
		require.Equal(t, 200, before.HTTP, before.Raw)
		assert.Equal(t, float64(1), before.Result.Meta["total"])
		assert.NotContains(t, before.Raw, strings.TrimPrefix(tok.Token, "tok_"))
		r = a.call(t, bob, "/v1/api-tokens/read", ``)
		assert.JSONEq(t, `[]`, string(r.Result.Data), r.Raw)
		for _, c := range []struct{ method, body string }{
			{"get-permissions", `[` + id + `]`},
			{"set-enabled", `[` + id + `, false]`},
			{"set-permissions", `[` + id + `, {}]`},
			{"delete", `[` + id + `]`},
		} {
			r := a.call(t, bob, "/v1/api-tokens/"+c.method, c.body)
			assert.Equal(t, 404, r.code(), r.Raw)
			assert.Equal(t, `token `+id+` not found`, r.Error.Message)
		}
		for _, c := range []struct{ token, method, body string }{
			{ann, "create", `[""]`},
			{ann, "create", `["a\u0000b"]`},
			{ann, "create", `["deploy bot"]`},
			{ann, "create", `[1]`},
			{ann, "create", `["x", "y"]`},
			{ann, "create", `[` + strings.Repeat(`"`, 1) + strings.Repeat("x", 100_000) + `"]`},
			{ann, "delete", `["'; DROP TABLE api_tokens; --"]`},
			{ann, "set-enabled", `[` + id + `, "no"]`},
			{ann, "update-permissions", `[` + id + `, {"superuser": true}]`},
			{ann, "update-permissions", `[` + id + `, {"admin": "yes"}]`},
			{tok.Token, "create", `["minted by a token"]`},
			{tok.Token, "delete", `[` + id + `]`},
		} {
			r := a.call(t, c.token, "/v1/api-tokens/"+c.method, c.body)
			assert.GreaterOrEqual(t, r.HTTP, 400, r.Raw)
			assert.Less(t, r.HTTP, 500, r.Raw)
		}
		after := a.call(t, ann, "/v1/api-tokens/read", ``)
		assert.Equal(t, before.Raw, after.Raw)

		// ann deleted: her token goes with her.
		assert.Equal(t, 200, a.call(t, root, "/v1/admin/users/delete", `["ann"]`).code())
		assert.Equal(t, -32801, a.call(t, tok.Token, "/v1/profile/read", ``).code())
		n, err := a.db.NewSelect().Table("api_tokens").Count(t.Context())
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}
