package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// The Security page enrols an authenticator app: the QR code and key
// shown, a code computed here confirms it, the recovery codes are shown
// once with copy and download. Signing in again then takes the password
// and a code.
func TestConsoleTOTP(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	a := startApp(t, storagetest.SQLiteDSN(t), func(c *config) { c.SettingsKey = settings.GenerateKey() })
	base := strings.TrimSuffix(a.url, "/api") + "/admin/"
	shots := newShooter(t)
	root := a.signin(t, "root", "root-password-for-tests")
	require.Equal(t, 200, a.call(t, root, "/v1/admin/users/create", `[{"username":"bob","password":"bob-password-1"}]`).code())

	tab := b.tab(t, nil)
	browse(t, tab, 30*time.Second, signInAs(base, "bob", "bob-password-1", "Security")...)
	var secret string
	browse(t, tab, 30*time.Second,
		chromedp.Click(`//nav/a[text()="Security"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#totp-status`),
		chromedp.Click(button("Set up authenticator app"), chromedp.BySearch),
		chromedp.WaitVisible(`dialog`),
		fill("Password", "bob-password-1"),
		chromedp.Click(`//dialog`+button("Continue"), chromedp.BySearch),
		chromedp.WaitVisible(`#totp-secret`),
		waitJS(`document.querySelector('dialog img.qr').naturalWidth > 0`),
		chromedp.Text(`#totp-secret`, &secret))
	shots.shot(t, tab, "totp-enrol")
	require.NotEmpty(t, secret)
	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	var codes int
	browse(t, tab, 30*time.Second,
		fill("Code from the app", code),
		chromedp.Click(`//dialog`+button("Turn on"), chromedp.BySearch),
		chromedp.WaitVisible(`dialog ol.recovery-codes`),
		chromedp.WaitVisible(`//dialog//a[text()="Download"][@download="recovery-codes.txt"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//dialog`+button("Copy"), chromedp.BySearch),
		chromedp.Evaluate(`document.querySelectorAll('dialog ol.recovery-codes li').length`, &codes))
	assert.Equal(t, 10, codes)
	shots.shot(t, tab, "recovery-codes")
	browse(t, tab, 20*time.Second,
		chromedp.Click(`//dialog`+button("Done"), chromedp.BySearch),
		waitJS(`!document.querySelector('dialog') && document.getElementById('totp-status').textContent === 'Authenticator app: on.'`),
		waitJS(`document.getElementById('recovery-left').textContent.startsWith('10 ')`))

	// Signed out, the password alone is not enough: the second step asks
	// for a code. The confirming code is spent, so the next step's is used.
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	require.NoError(t, err)
	browse(t, tab, 30*time.Second,
		chromedp.Click(`//nav`+button("Sign out"), chromedp.BySearch),
		chromedp.WaitVisible(byLabel("Username"), chromedp.BySearch),
		fill("Username", "bob"), fill("Password", "bob-password-1"),
		chromedp.Click(button("Sign in"), chromedp.BySearch),
		chromedp.WaitVisible(`form.second-step`),
		waitJS(`document.activeElement?.name === 'totp_code'`))
	shots.shot(t, tab, "second-step")
	browse(t, tab, 30*time.Second,
		fill("Code from your authenticator app", "000000"),
		chromedp.Click(button("Verify"), chromedp.BySearch),
		waitJS(`document.getElementById('notice').textContent === 'wrong or used TOTP code'`),
		fill("Code from your authenticator app", next),
		chromedp.Click(button("Verify"), chromedp.BySearch),
		chromedp.WaitVisible(`//nav/a[text()="Security"]`, chromedp.BySearch))
	assert.Empty(t, b.errors(), "the browser reported errors")
}
