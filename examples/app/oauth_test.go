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

	"github.com/authrpc/authrpc/oauth/oauthtest"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// A provider added in the settings signs a new user up from the console:
// "Sign in with …", the provider's own page, and back signed in, the
// account linked on the profile page.
func TestConsoleSignInWithOpenIDProvider(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	a := startApp(t, storagetest.SQLiteDSN(t))
	base := strings.TrimSuffix(a.url, "/api") + "/admin/"
	op := oauthtest.NewOP(t, "console", "console-secret", []string{base},
		oauthtest.User{Subject: "sub-alice", Username: "alice", Password: "alice-at-the-op", Email: "alice@example.com", EmailVerified: true})

	root := a.signin(t, "root", "root-password-for-tests")
	settings := fmt.Sprintf(`[{"signup_enabled":true,"oauth_redirect_urls":[%q],"oauth_providers":{"testop":{"type":"oidc","issuer":%q,"client_id":"console","client_secret":"console-secret"}}}]`, base, op.Issuer)
	r := a.call(t, root, "/v1/admin/settings/update", settings)
	require.Equal(t, 200, r.code(), r.Raw)
	assert.NotContains(t, r.Raw, "console-secret")

	tab := b.tab(t, nil)
	browse(t, tab, 30*time.Second,
		chromedp.Navigate(base),
		chromedp.WaitVisible(button("Sign in with testop"), chromedp.BySearch),
		chromedp.Click(button("Sign in with testop"), chromedp.BySearch),
		// The OP's login page.
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, "alice"),
		chromedp.SendKeys(`#password`, "alice-at-the-op"),
		chromedp.Click(`#submit`),
		// Back in the console, signed in as a new user.
		chromedp.WaitVisible(`//nav/a[text()="Profile"]`, chromedp.BySearch),
		chromedp.Navigate(base+"#/profile"),
		chromedp.WaitVisible(`#profile-name`),
		chromedp.WaitVisible(`tr[data-identity="testop"]`),
	)
	var name, url string
	browse(t, tab, 10*time.Second, chromedp.Text(`#profile-name`, &name), chromedp.Location(&url))
	assert.Equal(t, "alice", name)
	assert.NotContains(t, url, "code=", "the code left the address bar")

	// Unlinking takes a recent authorization: refused, with the server's message.
	browse(t, tab, 10*time.Second,
		chromedp.Click(button("Unlink"), chromedp.BySearch),
		waitJS(`document.getElementById("notice").textContent.includes("requires a recent authorization")`),
		chromedp.WaitVisible(`tr[data-identity="testop"]`),
	)

	// The administrator sees the account, and the provider on the settings page.
	r = a.call(t, root, "/v1/admin/users/get-identities", `["alice"]`)
	require.Equal(t, 200, r.code(), r.Raw)
	var ids []struct{ Provider, Subject, Email string }
	require.NoError(t, json.Unmarshal(r.Result.Data, &ids))
	assert.Equal(t, []struct{ Provider, Subject, Email string }{{"testop", "sub-alice", "alice@example.com"}}, ids)

	admin := b.tab(t, tab) // another tab of the same browser: a session of its own
	browse(t, admin, 30*time.Second, append(signInActions(base),
		chromedp.Navigate(base+"#/settings"),
		chromedp.WaitVisible(`tr[data-provider="testop"]`),
		waitJS(`document.querySelector('tr[data-provider="testop"] input[name="client_secret"]').placeholder === "stored; type to replace"`),
		waitJS(`document.getElementById("oauth-redirect-urls").value === `+fmt.Sprintf("%q", base)),
	)...)
	for _, e := range b.errors() {
		// The OP's page has no favicon; the console's pages are held to no errors.
		assert.Contains(t, e, op.Issuer+"/favicon.ico", "the console logged an error")
	}
}
