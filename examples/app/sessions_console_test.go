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

// currentSession is the id of the session token is.
func currentSession(t *testing.T, a *testApp, token string) string {
	t.Helper()
	r := a.call(t, token, "/v1/profile/get-sessions", ``)
	require.Equal(t, 200, r.code(), r.Raw)
	var env struct {
		Result struct {
			Data []struct {
				ID      string `json:"id"`
				Current bool   `json:"current"`
			} `json:"data"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Raw), &env))
	for _, s := range env.Result.Data {
		if s.Current {
			return s.ID
		}
	}
	t.Fatalf("no current session in %s", r.Raw)
	return ""
}

// The Security page lists the caller's sessions with this device marked,
// signs out one, and signs out all the others after the password; an
// administrator sees and ends a user's sessions from the users page.
func TestConsoleSecurity(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	a := startApp(t, storagetest.SQLiteDSN(t))
	base := strings.TrimSuffix(a.url, "/api") + "/admin/"
	shots := newShooter(t)
	root := a.signin(t, "root", "root-password-for-tests")
	require.Equal(t, 200, a.call(t, root, "/v1/admin/users/create", `[{"username":"bob","password":"bob-password-1"}]`).code())
	elsewhere := a.signin(t, "bob", "bob-password-1")

	tab := b.tab(t, nil)
	browse(t, tab, 30*time.Second, signInAs(base, "bob", "bob-password-1", "Security")...)
	rows := `document.querySelectorAll('tr[data-session]').length`
	browse(t, tab, 20*time.Second,
		chromedp.Click(`//nav/a[text()="Security"]`, chromedp.BySearch),
		waitJS(rows+` === 2`),
		chromedp.WaitVisible(`tr[data-current="true"] .this-device`))
	shots.shot(t, tab, "security")

	// Sign out the session made over the API: the other device.
	elsewhereID := currentSession(t, a, elsewhere)
	require.NotEmpty(t, elsewhereID)
	browse(t, tab, 20*time.Second,
		chromedp.Click(fmt.Sprintf(`button[aria-label="Sign out session %s"]`, elsewhereID)),
		waitJS(rows+` === 1`))
	assert.Equal(t, 401, a.call(t, elsewhere, "/v1/profile/read", ``).HTTP, "the API's session ended")

	// All the others, after the password.
	third := a.signin(t, "bob", "bob-password-1")
	browse(t, tab, 20*time.Second,
		chromedp.Navigate(base+"#/profile"), chromedp.WaitVisible(`#profile-name`),
		chromedp.Click(`//nav/a[text()="Security"]`, chromedp.BySearch),
		waitJS(rows+` === 2`),
		chromedp.Click(button("Sign out all other sessions"), chromedp.BySearch),
		chromedp.WaitVisible(`dialog`),
		fill("Password", "wrong-password"),
		chromedp.Click(`//dialog`+button("Sign out others"), chromedp.BySearch),
		waitJS(`document.querySelector('dialog p.error')?.textContent === 'Bad credentials'`),
		fill("Password", "bob-password-1"),
		chromedp.Click(`//dialog`+button("Sign out others"), chromedp.BySearch),
		waitJS(`!document.querySelector('dialog') && `+rows+` === 1`))
	assert.Equal(t, 401, a.call(t, third, "/v1/profile/read", ``).HTTP, "the other session ended")

	// An administrator: bob's sessions from the users page.
	browse(t, tab, 30*time.Second,
		chromedp.Click(`//nav`+button("Sign out"), chromedp.BySearch),
		chromedp.WaitVisible(button("Sign in"), chromedp.BySearch))
	fourth := a.signin(t, "bob", "bob-password-1")
	browse(t, tab, 30*time.Second, signInActions(base)...)
	browse(t, tab, 20*time.Second,
		chromedp.WaitVisible(`tr[data-user="bob"]`),
		chromedp.Click(`button[aria-label="Sessions of bob"]`),
		chromedp.WaitVisible(`dialog tr[data-session]`))
	shots.shot(t, tab, "user-sessions")
	browse(t, tab, 20*time.Second,
		chromedp.Click(`//dialog`+button("Sign out all"), chromedp.BySearch),
		waitJS(`!document.querySelector('dialog')`))
	assert.Equal(t, 401, a.call(t, fourth, "/v1/profile/read", ``).HTTP, "bob's sessions ended")

	// The security mail is on until a box on the settings page is cleared.
	browse(t, tab, 20*time.Second,
		chromedp.Click(`//nav/a[text()="Settings"]`, chromedp.BySearch),
		chromedp.WaitVisible(byLabel("Mail a changed password"), chromedp.BySearch),
		waitJS(`document.querySelector('input[name="no_password_changed_mail"]').checked`),
		chromedp.Click(byLabel("Mail a changed password"), chromedp.BySearch),
		chromedp.Click(button("Save"), chromedp.BySearch),
		waitJS(`document.getElementById('notice').textContent === 'Settings saved.'`))
	read := a.call(t, root, "/v1/admin/settings/read", ``).Raw
	assert.Contains(t, read, `"no_password_changed_mail":true`)
	assert.Contains(t, read, `"no_new_signin_mail":false`)
	assert.Empty(t, b.errors(), "the browser reported errors")
}
