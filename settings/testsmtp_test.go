package settings_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/mailer"
	"github.com/authrpc/authrpc/mailer/mailertest"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage/storagetest"
)

const (
	smtpUser     = "mailer@example.com"
	smtpPassword = "Sm7p-PASSWORD-that-must-never-show"
)

// store saves settings that point at srv, as an admin does.
func (e *env) store(t *testing.T, srv *mailertest.Server, password string) {
	t.Helper()
	body, err := json.Marshal([]map[string]any{{
		"smtp_hostname": srv.Host, "smtp_port": srv.Port,
		"smtp_username": smtpUser, "smtp_password": password,
		"smtp_from": "Example <noreply@example.com>", "app_url": "https://app.example.com",
	}})
	require.NoError(t, err)
	e.ok(t, "update", string(body))
}

func TestSMTPTestPasses(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		for _, mode := range []mailertest.Mode{mailertest.Plain, mailertest.StartTLS, mailertest.ImplicitTLS} {
			srv := mailertest.NewServer(t, mailertest.Options{Mode: mode, Username: smtpUser, Password: smtpPassword})
			e := newEnv(t, db, settings.Options{Mailer: srv.MailerOptions()})
			e.store(t, srv, smtpPassword)
			assert.Empty(t, e.ok(t, "test-smtp", `[{}]`), "200 without data")
			// The same, with every field given.
			e.ok(t, "test-smtp", fmt.Sprintf(`[{"smtp_hostname":%q,"smtp_port":%d,"smtp_username":%q,"smtp_password":%q}]`,
				srv.Host, srv.Port, smtpUser, smtpPassword))
		}
	})
}

func TestSMTPTestTakesStoredValuesForFieldsLeftOut(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		srv := mailertest.NewServer(t, mailertest.Options{Mode: mailertest.StartTLS, Username: smtpUser, Password: smtpPassword})
		e := newEnv(t, db, settings.Options{Mailer: srv.MailerOptions()})
		e.store(t, srv, "wrong-password")

		a := e.refused(t, rpc.CodeBadRequest, "test-smtp", `[{}]`)
		assert.Equal(t, 400, a.HTTP)
		assert.Equal(t, "SMTP test failed: smtp "+srv.Addr()+": AUTH: 535 5.7.8 Authentication failed", a.Message)

		// A password given is tried instead of the stored one, which stays.
		e.ok(t, "test-smtp", fmt.Sprintf(`[{"smtp_password":%q}]`, smtpPassword))
		a = e.refused(t, rpc.CodeBadRequest, "test-smtp", `[{"smtp_username":"someone-else"}]`)
		assert.Contains(t, a.Message, "535 5.7.8 Authentication failed")
		var got struct {
			PasswordSet bool `json:"smtp_password_set"`
		}
		require.NoError(t, json.Unmarshal([]byte(e.ok(t, "read", ``)), &got))
		assert.True(t, got.PasswordSet)
	})
}

func TestSMTPTestFailures(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		const timeout = 300 * time.Millisecond
		e := newEnv(t, db, settings.Options{Mailer: mailer.Options{Timeout: timeout}})

		a := e.refused(t, rpc.CodeBadRequest, "test-smtp", `[{}]`)
		assert.Contains(t, a.Message, "no SMTP server to test")

		host, port := mailertest.Unreachable(t)
		a = e.refused(t, rpc.CodeBadRequest, "test-smtp", fmt.Sprintf(`[{"smtp_hostname":%q,"smtp_port":%d}]`, host, port))
		assert.Equal(t, 400, a.HTTP)
		assert.Contains(t, a.Message, fmt.Sprintf("smtp %s:%d: connect: dial tcp %s:%d: connect: connection refused", host, port, host, port))

		// The message names the bound that ended the wait: the mailer's
		// timeout, not the call's.
		host, port = mailertest.Silent(t)
		a = e.refused(t, rpc.CodeBadRequest, "test-smtp", fmt.Sprintf(`[{"smtp_hostname":%q,"smtp_port":%d,"smtp_username":"u","smtp_password":"p"}]`, host, port))
		assert.Contains(t, a.Message, "greeting: no answer within 300ms")

		for _, body := range []string{
			`[{"smtp_port":70000}]`, `[{"smtp_port":-1}]`, `[{"smtp_hostname":"bad host"}]`, `[{"smtp_hostname":1}]`,
			`[{"smtp_from":"a@example.com"}]`, `[{"app_url":"https://x.example"}]`, `[{"smtp_username":"a\u0000"}]`,
			`[{"smtp_password":"` + strings.Repeat("p", 2000) + `"}]`, `[]`, `["x"]`,
		} {
			e.refused(t, rpc.CodeInvalidParams, "test-smtp", body)
		}
	})
}

func TestSMTPTestKeepsTheStoredPasswordForTheStoredHost(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		// The stored server, and another that would capture what it is sent.
		srv := mailertest.NewServer(t, mailertest.Options{Username: smtpUser, Password: smtpPassword})
		e := newEnv(t, db, settings.Options{Mailer: srv.MailerOptions()})
		e.store(t, srv, smtpPassword)

		a := e.refused(t, rpc.CodeBadRequest, "test-smtp", `[{"smtp_hostname":"localhost"}]`)
		assert.Contains(t, a.Message, "give smtp_password")
		// With a password of its own, another host is fine to test.
		a = e.refused(t, rpc.CodeBadRequest, "test-smtp", fmt.Sprintf(`[{"smtp_hostname":"localhost","smtp_port":%d,"smtp_password":"guess"}]`, srv.Port))
		assert.Contains(t, a.Message, "535")
		e.ok(t, "test-smtp", fmt.Sprintf(`[{"smtp_hostname":"localhost","smtp_port":%d,"smtp_password":%q}]`, srv.Port, smtpPassword))
		// The stored host, spelled in capitals, is the stored host.
		e.ok(t, "test-smtp", `[{"smtp_hostname":"127.0.0.1"}]`)
	})
}

// TestPasswordNeverAnswered calls every method, succeeding and failing,
// with a password stored, and looks for it in every answer and in the logs.
func TestPasswordNeverAnswered(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		srv := mailertest.NewServer(t, mailertest.Options{Mode: mailertest.StartTLS, Username: smtpUser, Password: smtpPassword})
		opts := srv.MailerOptions()
		opts.Timeout = 300 * time.Millisecond
		e := newEnv(t, db, settings.Options{Mailer: opts, Extra: &Branding{Theme: "light"}})
		e.store(t, srv, smtpPassword)
		unreachableHost, unreachablePort := mailertest.Unreachable(t)
		silentHost, silentPort := mailertest.Silent(t)

		calls := []struct{ method, body string }{
			{"read", ``},
			{"read", `[1]`},
			{"update", `[{}]`},
			{"update", `[{"smtp_password":"` + smtpPassword + `"}]`},
			{"update", `[{"smtp_password":"` + smtpPassword + `\n"}]`},
			{"update", `[{"smtp_password":"` + smtpPassword + strings.Repeat("x", 2000) + `"}]`},
			{"update", `[{"smtp_password":["` + smtpPassword + `"]}]`},
			{"update", `[{"smtp_password":{"x":"` + smtpPassword + `"}}]`},
			{"update", `[{"smtp_password":"` + smtpPassword + `","nope":1}]`},
			{"update", `[{"theme":"` + smtpPassword + `"}]`},
			{"update", `[{"smtp_password":"` + smtpPassword + `"`},
			{"test-smtp", `[{}]`},
			{"test-smtp", `[{"smtp_username":"other"}]`},
			{"test-smtp", `[{"smtp_password":"` + smtpPassword + `"}]`},
			{"test-smtp", `[{"smtp_password":"` + smtpPassword + `x"}]`},
			{"test-smtp", `[{"smtp_password":1}]`},
			{"test-smtp", fmt.Sprintf(`[{"smtp_hostname":%q,"smtp_port":%d,"smtp_password":%q}]`, unreachableHost, unreachablePort, smtpPassword)},
			{"test-smtp", fmt.Sprintf(`[{"smtp_hostname":%q,"smtp_port":%d,"smtp_password":%q}]`, silentHost, silentPort, smtpPassword)},
			{"test-smtp", fmt.Sprintf(`[{"smtp_hostname":%q,"smtp_port":%d}]`, srv.Host, unreachablePort)},
			{"update", `[{"smtp_hostname":"localhost"}]`},
			{"read", ``},
		}
		for _, c := range calls {
			for _, token := range []string{e.admin, e.plain, ""} {
				a := e.call(t, token, c.method, c.body)
				assert.NotContains(t, a.Raw, smtpPassword, "%s %s", c.method, c.body)
				assert.NotContains(t, a.Raw, "smtp_password\"", "%s %s: only smtp_password_set is answered", c.method, c.body)
			}
		}
		assert.NotContains(t, e.logs.String(), smtpPassword)
	})
}

// The module's Mailer sends through the settings as they are now.
func TestMailerUsesCurrentSettings(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		first := mailertest.NewServer(t, mailertest.Options{Mode: mailertest.StartTLS, Username: smtpUser, Password: smtpPassword})
		second := mailertest.NewServer(t, mailertest.Options{Username: smtpUser, Password: smtpPassword})
		e := newEnv(t, db, settings.Options{Mailer: first.MailerOptions()})
		m := e.mod.Mailer()
		ctx := context.Background()

		err := m.SendTemplate(ctx, "ann@example.org", mailer.TemplateConfirmEmail, mailer.LinkData{Username: "ann", Link: "https://x"})
		assert.ErrorIs(t, err, mailer.ErrNotConfigured)

		e.store(t, first, smtpPassword)
		appURL, err := e.mod.AppURL(ctx)
		require.NoError(t, err)
		link := appURL + "/confirm-email?token=ec_abc"
		require.NoError(t, m.SendTemplate(ctx, "Ann <ann@example.org>", mailer.TemplateConfirmEmail,
			mailer.LinkData{Username: "ann", Link: link, ExpiresAt: time.Now().Add(24 * time.Hour)}))
		got := first.Wait(t, 1, 5*time.Second)
		assert.Equal(t, "Confirm your email address", got.Subject)
		assert.Equal(t, `"Example" <noreply@example.com>`, got.Header.Get("From"))
		assert.Contains(t, got.Text, link)
		assert.Contains(t, got.HTML, `href="`+link+`"`)

		e.ok(t, "update", fmt.Sprintf(`[{"smtp_port":%d}]`, second.Port))
		require.NoError(t, m.Send(ctx, mailer.Message{To: "bob@example.org", Subject: "second", Text: "hi"}))
		assert.Equal(t, "second", second.Wait(t, 1, 5*time.Second).Subject)
		assert.Len(t, first.Messages(), 1)
	})
}
