package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/storage/storagetest"
)

// The console's audit trail page shows read's rows, newest first, with
// actor, target, address and changes, and filters them by action, actor
// and target.
func TestConsoleAuditTrail(t *testing.T) {
	b := newBrowser(t)
	a := startApp(t, storagetest.SQLiteDSN(t))
	base := strings.TrimSuffix(a.url, "/api") + "/admin/"
	root := a.signin(t, "root", "root-password-for-tests")
	created := a.call(t, root, "/v1/admin/users/create", `[{"username":"ann","password":"ann-password-123"}]`)
	require.Equal(t, 200, created.HTTP, created.Raw)
	var ann struct{ ID string }
	require.NoError(t, json.Unmarshal(created.Result.Data, &ann))
	for _, call := range [][2]string{
		{"/v1/admin/users/set-enabled", `["ann", false]`},
		{"/v1/admin/users/set-enabled", `["ann", true]`},
		{"/v1/admin/users/set-permissions", `["ann", {"admin": true}]`},
		{"/v1/admin/settings/update", `[{"app_url":"https://app.example.com"}]`},
	} {
		require.Equal(t, 200, a.call(t, root, call[0], call[1]).HTTP, call[0])
	}
	r := a.call(t, root, "/v1/admin/audit/read", `[]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	var api []auditRow
	require.NoError(t, json.Unmarshal(r.Result.Data, &api))
	require.Len(t, api, 5)

	tab := b.tab(t, nil)
	browse(t, tab, 20*time.Second, signInActions(base)...)
	rows := func(n int) chromedp.Action {
		return waitJS(fmt.Sprintf(`document.querySelectorAll('#audit tbody tr').length === %d`, n))
	}
	browse(t, tab, 30*time.Second,
		chromedp.Click(`//nav/a[text()="Audit trail"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#audit`),
		rows(len(api)))
	var shown []struct{ ID, Action, Actor, Target, Address, Result string }
	browse(t, tab, 5*time.Second, chromedp.Evaluate(`[...document.querySelectorAll('#audit tbody tr')].map((tr) => ({
		ID: tr.dataset.id, Action: tr.dataset.action,
		Actor: tr.querySelector('[data-col="actor"]').textContent,
		Target: tr.querySelector('[data-col="target"]').textContent,
		Address: tr.querySelector('[data-col="address"]').textContent,
		Result: tr.querySelector('[data-col="result"]').textContent}))`, &shown))
	require.Len(t, shown, len(api))
	for i, row := range api {
		assert.Equal(t, row.ID, shown[i].ID, "the API's order, newest first")
		assert.Equal(t, row.Action, shown[i].Action)
		assert.Equal(t, "user 1 (session "+*row.ActorTokenID+")", shown[i].Actor)
		target := ""
		if row.TargetID != nil {
			target = *row.TargetID
		}
		assert.Equal(t, target, shown[i].Target)
		assert.Equal(t, "127.0.0.1", shown[i].Address)
		assert.Equal(t, "ok", shown[i].Result)
	}
	newShooter(t).shot(t, tab, "audit")

	browse(t, tab, 20*time.Second,
		fill("Action", "users.disable"),
		chromedp.Click(`#audit-filters button[type="submit"]`),
		rows(1),
		fill("Action", ""),
		fill("Target id", ann.ID),
		chromedp.Click(`#audit-filters button[type="submit"]`),
		rows(4),
		fill("Actor id", "2"),
		chromedp.Click(`#audit-filters button[type="submit"]`),
		rows(0),
		fill("Actor id", "x"),
		chromedp.Click(`#audit-filters button[type="submit"]`),
		waitJS(`document.getElementById('notice').className === 'error' && document.getElementById('notice').textContent.includes('actor_id')`))
	var hash string
	browse(t, tab, 5*time.Second, chromedp.Evaluate(`location.hash`, &hash))
	assert.Equal(t, "#/audit?actor_id=x&target_id="+ann.ID, hash, "the filters follow the page's name")
	assert.Empty(t, b.errors(), "the browser reported errors")
}
