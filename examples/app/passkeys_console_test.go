package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/storage/storagetest"
)

// passkeyTab is a tab with Chromium's virtual authenticator: a platform
// authenticator (CTAP2, internal transport) that keeps discoverable
// credentials and verifies its user, answering at once.
func passkeyTab(t *testing.T, b *browser) (context.Context, webauthn.AuthenticatorID) {
	t.Helper()
	tab := b.tab(t, nil)
	var id webauthn.AuthenticatorID
	require.NoError(t, chromedp.Run(tab, webauthn.Enable(), chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		id, err = webauthn.AddVirtualAuthenticator(&webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport:      webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true,
			AutomaticPresenceSimulation: true,
		}).Do(ctx)
		return err
	})))
	return tab, id
}

// A passkey added on the Security page completes the second step after
// the password, and signs its user in from the sign-in page without a
// password; renamed and removed there too. WebAuthn needs a
// secure context: the page is opened at http://localhost (the server
// listens on 127.0.0.1), which is the relying party the app URL names.
func TestConsolePasskeys(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	a := startApp(t, storagetest.SQLiteDSN(t))
	origin := strings.Replace(strings.TrimSuffix(a.url, "/api"), "127.0.0.1", "localhost", 1)
	base := origin + "/admin/"
	shots := newShooter(t)
	root := a.signin(t, "root", "root-password-for-tests")
	require.Equal(t, 200, a.call(t, root, "/v1/admin/settings/update", `[{"app_url":"`+origin+`"}]`).code())
	require.Equal(t, 200, a.call(t, root, "/v1/admin/users/create", `[{"username":"bob","password":"bob-password-1"}]`).code())

	tab, authenticator := passkeyTab(t, b)
	rows := `document.querySelectorAll('tr[data-passkey]').length`
	browse(t, tab, 30*time.Second, signInAs(base, "bob", "bob-password-1", "Security")...)
	browse(t, tab, 30*time.Second,
		chromedp.Click(`//nav/a[text()="Security"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#no-passkeys`),
		chromedp.Click(button("Add a passkey"), chromedp.BySearch),
		chromedp.WaitVisible(`dialog`),
		fill("Name", "Laptop"),
		fill("Password", "bob-password-1"),
		chromedp.Click(`//dialog`+button("Add passkey"), chromedp.BySearch),
		waitJS(`!document.querySelector('dialog') && `+rows+` === 1`),
		waitJS(`document.querySelector('tr[data-passkey] td.name').textContent === 'Laptop'`))
	shots.shot(t, tab, "passkeys")

	var creds []*webauthn.Credential
	require.NoError(t, chromedp.Run(tab, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		creds, err = webauthn.GetCredentials(authenticator).Do(ctx)
		return err
	})))
	require.Len(t, creds, 1, "the virtual authenticator holds the passkey")
	assert.True(t, creds[0].IsResidentCredential, "a discoverable credential")
	assert.Equal(t, "localhost", creds[0].RpID)

	// The password now asks for a second step, which the passkey completes.
	browse(t, tab, 30*time.Second,
		chromedp.Click(`//nav`+button("Sign out"), chromedp.BySearch),
		chromedp.WaitVisible(byLabel("Username"), chromedp.BySearch),
		chromedp.SendKeys(byLabel("Username"), "bob", chromedp.BySearch),
		chromedp.SendKeys(byLabel("Password"), "bob-password-1\r", chromedp.BySearch),
		chromedp.WaitVisible(`form.second-step[data-methods~="passkey"]`),
		chromedp.Click(button("Use a passkey"), chromedp.BySearch),
		chromedp.WaitVisible(`//nav/a[text()="Security"]`, chromedp.BySearch))

	// Sign out, and back in with the passkey alone.
	browse(t, tab, 30*time.Second,
		chromedp.Click(`//nav`+button("Sign out"), chromedp.BySearch),
		chromedp.WaitVisible(button("Sign in with a passkey"), chromedp.BySearch),
		chromedp.Click(button("Sign in with a passkey"), chromedp.BySearch),
		chromedp.WaitVisible(`//nav/a[text()="Security"]`, chromedp.BySearch),
		chromedp.Click(`//nav/a[text()="Security"]`, chromedp.BySearch),
		waitJS(rows+` === 1`),
		waitJS(`document.querySelector('tr[data-passkey] td:nth-child(3)').textContent !== 'never'`))

	// Rename, then remove (after the passkey again, as a step-up).
	browse(t, tab, 30*time.Second,
		chromedp.Click(`button[aria-label="Rename passkey Laptop"]`),
		chromedp.WaitVisible(`dialog`),
		fill("Name", "Old laptop"),
		chromedp.Click(`//dialog`+button("Rename"), chromedp.BySearch),
		waitJS(`document.querySelector('tr[data-passkey] td.name')?.textContent === 'Old laptop'`),
		chromedp.Click(`button[aria-label="Remove passkey Old laptop"]`),
		chromedp.WaitVisible(`dialog`),
		// Confirmed with the passkey instead of the password.
		chromedp.Click(`//dialog`+button("Use a passkey instead"), chromedp.BySearch),
		chromedp.Click(`//dialog`+button("Remove"), chromedp.BySearch),
		waitJS(`!document.querySelector('dialog') && `+rows+` === 0`),
		chromedp.WaitVisible(`#no-passkeys`))
	bob := a.signin(t, "bob", "bob-password-1")
	assert.Equal(t, `[]`, strings.TrimSpace(string(a.call(t, bob, "/v1/profile/get-passkeys", ``).Result.Data)))

	// The removed passkey signs in no more, though the authenticator still
	// offers it.
	browse(t, tab, 30*time.Second,
		chromedp.Click(`//nav`+button("Sign out"), chromedp.BySearch),
		chromedp.Click(button("Sign in with a passkey"), chromedp.BySearch),
		waitJS(`document.getElementById('notice').textContent.includes('not registered here')`))
	for _, e := range b.errors() {
		// The refused sign-in is a 401 the browser logs as a failed load.
		assert.Contains(t, e, "401", "the browser reported an error")
	}
}
