package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// auditRow is a row of /v1/admin/audit/read.
type auditRow struct {
	ID            string         `json:"id"`
	Action        string         `json:"action"`
	ActorID       *string        `json:"actor_id"`
	ActorKind     string         `json:"actor_kind"`
	ActorTokenID  *string        `json:"actor_token_id"`
	TargetID      *string        `json:"target_id"`
	Changes       map[string]any `json:"changes"`
	RemoteAddress *string        `json:"remote_address"`
	UserAgent     *string        `json:"user_agent"`
	Result        string         `json:"result"`
}

// auditCaller is a client of the app from one address (behind the trusted
// proxy, which names it in X-Forwarded-For) with one user agent.
type auditCaller struct {
	a     *testApp
	token string
	addr  string
	agent string
}

func (c auditCaller) call(t *testing.T, method, params string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.a.url+method, strings.NewReader(params))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", c.addr)
	req.Header.Set("User-Agent", c.agent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return c.a.send(t, req)
}

// ok calls and requires a 200, answering the data decoded into a map (nil
// for none).
func (c auditCaller) ok(t *testing.T, method, params string) map[string]any {
	t.Helper()
	r := c.call(t, method, params)
	require.Equal(t, http.StatusOK, r.HTTP, "%s %s: %s", method, params, r.Raw)
	var out map[string]any
	if len(r.Result.Data) > 0 && r.Result.Data[0] == '{' {
		require.NoError(t, json.Unmarshal(r.Result.Data, &out))
	}
	return out
}

func (c auditCaller) signin(t *testing.T, name, password string) auditCaller {
	t.Helper()
	d := c.ok(t, "/v1/session/signin", fmt.Sprintf(`[{"username":%q,"password":%q}]`, name, password))
	c.token = d["token"].(string)
	return c
}

// Every administrative and credential change of a scripted session is in
// the audit trail with its actor, target and client address, and no secret
// the session used (passwords, generated passwords, session and API
// tokens, the SMTP password) is in any stored row.
func TestAuditTrailOfAScriptedSession(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		const (
			smtpPassword = "smtp-secret-Zq81"
			annPassword  = "ann-first-password-Kx2"
			annPassword2 = "ann-second-password-Lw9"
			bobPassword  = "bob-new-password-Pj4"
			resetTo      = "reset-by-admin-Vn3"
		)
		root := auditCaller{a: a, addr: "198.51.100.1", agent: "root-console/1.0"}.signin(t, "root", "root-password-for-tests")
		secrets := []string{"root-password-for-tests", smtpPassword, annPassword, annPassword2, bobPassword, resetTo, root.token}

		root.ok(t, "/v1/admin/settings/update", `[{"app_url":"https://app.example.com","smtp_hostname":"smtp.example.com","smtp_username":"mailer","smtp_password":"`+smtpPassword+`"}]`)
		ann := root.ok(t, "/v1/admin/users/create", `[{"username":"ann","password":"`+annPassword+`","email":"ann@example.com"}]`)
		annID := ann["id"].(string)
		bob := root.ok(t, "/v1/admin/users/create", `[{"username":"bob"}]`)
		bobID := bob["id"].(string)
		secrets = append(secrets, bob["password"].(string)) // generated
		root.ok(t, "/v1/admin/users/set-enabled", `["bob", false]`)
		root.ok(t, "/v1/admin/users/set-enabled", `["bob", true]`)
		root.ok(t, "/v1/admin/users/set-password", `["ann", "`+annPassword2+`"]`)
		generated := root.call(t, "/v1/admin/users/set-password", `["bob"]`)
		require.Equal(t, http.StatusOK, generated.HTTP, generated.Raw)
		secrets = append(secrets, string(generated.Result.Data))
		root.ok(t, "/v1/admin/users/set-password", `["ann", "`+resetTo+`"]`)
		root.ok(t, "/v1/admin/users/set-permissions", `["ann", {"admin": true}]`)
		root.ok(t, "/v1/admin/users/set-username", `["bob", "bobby", "`+bobPassword+`"]`)

		annC := auditCaller{a: a, addr: "203.0.113.5", agent: "ann-cli/2.0"}.signin(t, "ann", resetTo)
		secrets = append(secrets, annC.token)
		annC.ok(t, "/v1/profile/set-email", `["ann.new@example.com"]`)
		tok := annC.ok(t, "/v1/api-tokens/create", `["deploy"]`)
		tokID := tok["id"].(string)
		secrets = append(secrets, tok["token"].(string))
		annC.ok(t, "/v1/api-tokens/set-permissions", `["`+tokID+`", {"admin": true}]`)
		annC.ok(t, "/v1/api-tokens/set-enabled", `["`+tokID+`", false]`)
		annC.ok(t, "/v1/api-tokens/set-enabled", `["`+tokID+`", true]`)
		refused := annC.call(t, "/v1/admin/users/delete", `["ann"]`)
		require.Equal(t, http.StatusForbidden, refused.HTTP, refused.Raw)

		bot := auditCaller{a: a, token: tok["token"].(string), addr: "2001:db8::77", agent: "deploy-bot/3"}
		refused = bot.call(t, "/v1/api-tokens/create", `["minted"]`)
		require.Equal(t, http.StatusForbidden, refused.HTTP, refused.Raw)
		bot.ok(t, "/v1/admin/users/set-enabled", `["bobby", false]`) // the token holds admin

		annC.ok(t, "/v1/api-tokens/delete", `["`+tokID+`"]`)
		root.ok(t, "/v1/admin/users/delete", `["bobby"]`)
		root.ok(t, "/v1/admin/settings/update", `[{"smtp_hostname":"smtp2.example.com"}]`) // clears the password
		root.ok(t, "/v1/admin/users/sign-out-all-sessions", `["ann"]`)

		r := root.call(t, "/v1/admin/audit/read", `[{"order_by":[["id","asc"]]}]`)
		require.Equal(t, http.StatusOK, r.HTTP, r.Raw)
		var rows []auditRow
		require.NoError(t, json.Unmarshal(r.Result.Data, &rows))

		rootID, rootSession := "1", ""
		type want struct{ action, actor, kind, target, addr, result string }
		var got []want
		for _, row := range rows {
			w := want{action: row.Action, kind: row.ActorKind, result: row.Result}
			if row.ActorID != nil {
				w.actor = *row.ActorID
			}
			if row.TargetID != nil {
				w.target = *row.TargetID
			}
			if row.RemoteAddress != nil {
				w.addr = *row.RemoteAddress
			}
			if row.ActorID != nil && *row.ActorID == rootID && rootSession == "" && row.ActorTokenID != nil {
				rootSession = *row.ActorTokenID
			}
			got = append(got, w)
		}
		const r1, a5, b6 = "198.51.100.1", "203.0.113.5", "2001:db8::77"
		expect := []want{
			{"settings.update", rootID, "session", "", r1, "ok"},
			{"users.create", rootID, "session", annID, r1, "ok"},
			{"users.create", rootID, "session", bobID, r1, "ok"},
			{"users.disable", rootID, "session", bobID, r1, "ok"},
			{"users.enable", rootID, "session", bobID, r1, "ok"},
			{"users.set-password", rootID, "session", annID, r1, "ok"},
			{"users.set-password", rootID, "session", bobID, r1, "ok"},
			{"users.set-password", rootID, "session", annID, r1, "ok"},
			{"users.set-permissions", rootID, "session", annID, r1, "ok"},
			{"users.rename", rootID, "session", bobID, r1, "ok"},
			{"users.set-email", annID, "session", annID, a5, "ok"},
			{"tokens.create", annID, "session", tokID, a5, "ok"},
			{"tokens.set-permissions", annID, "session", tokID, a5, "ok"},
			{"tokens.disable", annID, "session", tokID, a5, "ok"},
			{"tokens.enable", annID, "session", tokID, a5, "ok"},
			{"users.delete", annID, "session", annID, a5, "forbidden: you cannot delete yourself"},
			{"tokens.create", annID, "token", "", b6, "forbidden: API tokens cannot create or change API tokens: sign in with a password and use the session"},
			{"users.disable", annID, "token", bobID, b6, "ok"},
			{"tokens.delete", annID, "session", tokID, a5, "ok"},
			{"users.delete", rootID, "session", bobID, r1, "ok"},
			{"settings.update", rootID, "session", "", r1, "ok"},
			{"users.end-sessions", rootID, "session", annID, r1, "ok"},
		}
		assert.Equal(t, expect, got)
		require.Len(t, rows, len(expect))
		assert.NotEmpty(t, rootSession, "a session's id names the session")
		assert.Equal(t, "root-console/1.0", *rows[0].UserAgent)
		assert.Equal(t, "deploy-bot/3", *rows[16].UserAgent)
		assert.Equal(t, tokID, *rows[17].ActorTokenID, "the token that acted")

		// What the rows say changed, secrets as true or false only.
		assert.Equal(t, map[string]any{"app_url": "https://app.example.com", "smtp_hostname": "smtp.example.com", "smtp_username": "mailer", "smtp_password": true}, rows[0].Changes)
		assert.Equal(t, map[string]any{"name": "ann", "email": "ann@example.com", "telegram_name": nil, "enabled": true, "permissions": map[string]any{}, "password": true}, rows[1].Changes)
		assert.Equal(t, map[string]any{"password": true}, rows[5].Changes)
		assert.Equal(t, map[string]any{"permissions": map[string]any{"admin": true}}, rows[8].Changes)
		assert.Equal(t, map[string]any{"name": "bobby", "old_name": "bob", "password": true}, rows[9].Changes)
		assert.Equal(t, map[string]any{"email": "ann.new@example.com"}, rows[10].Changes)
		assert.Equal(t, map[string]any{"name": "deploy", "user_id": annID}, rows[11].Changes)
		assert.Equal(t, map[string]any{"smtp_hostname": "smtp2.example.com", "smtp_password": false}, rows[20].Changes)

		// Filters, as an auditor would use them.
		for _, f := range []struct {
			where string
			n     int
		}{
			{`{"actor_id":"` + annID + `"}`, 9},
			{`{"target_id":"` + annID + `"}`, 7},
			{`{"target_id":"` + bobID + `"}`, 7},
			{`{"action":"tokens.create"}`, 2},
		} {
			r := root.call(t, "/v1/admin/audit/read", `[{"where":`+f.where+`}]`)
			require.Equal(t, http.StatusOK, r.HTTP, r.Raw)
			assert.Equal(t, float64(f.n), r.Result.Meta["total"], f.where)
		}

		// No secret in any stored row, whatever its column.
		var stored []map[string]any
		require.NoError(t, a.db.NewSelect().Table("authrpc_audit").Scan(t.Context(), &stored))
		require.Len(t, stored, len(expect))
		dump, err := json.Marshal(stored)
		require.NoError(t, err)
		for _, s := range secrets {
			require.NotEmpty(t, s)
			assert.NotContains(t, string(dump), strings.Trim(s, `"`), "a secret in the audit trail")
		}
	}, func(c *config) { c.ProxyHeader = "X-Forwarded-For" })
}
