package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/internal/longtest"
	"github.com/authrpc/authrpc/mailer/mailertest"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// The email flows of the Session section as a deployment of the example app
// meets them: an administrator stores SMTP settings that point at a local
// SMTP server and tests them; users ask for links, the mails arrive, the
// links' tokens do their work once. Every answer is recorded and searched
// for the SMTP password, as are the log and the mails.

const (
	mailAppURL   = "https://app.example.com"
	mailSMTPUser = "mailer@example.com"
	mailSMTPPass = "e2e-SMTP-Pa55word-never-answered"
)

// mailApp is the example app on a real HTTP server, with its log kept, an
// SMTP server with AUTH, and an administrator's session.
type mailApp struct {
	*testApp
	srv   *mailertest.Server
	admin string // an administrator's session

	mu      sync.Mutex
	answers []string
	logs    bytes.Buffer // guarded by mu
}

func (m *mailApp) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.logs.Write(p)
}

func (m *mailApp) log() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.logs.String()
}

// startMailApp starts the app on dsn, and as an administrator stores SMTP
// settings for a new local server and tests them.
func startMailApp(t *testing.T, dsn string) *mailApp {
	t.Helper()
	m := &mailApp{srv: mailertest.NewServer(t, mailertest.Options{Username: mailSMTPUser, Password: mailSMTPPass})}
	a, err := newApp(context.Background(), config{
		DB:           dsn,
		RootPassword: "root-password-for-tests",
		Logger:       slog.New(slog.NewTextHandler(m, nil)),
		Out:          &bytes.Buffer{},
	})
	require.NoError(t, err)
	hs := httptest.NewServer(a.Handler())
	m.testApp = &testApp{app: a, url: hs.URL + "/api"}
	t.Cleanup(func() {
		hs.Close()
		require.NoError(t, a.Shutdown(context.Background()))
		require.NoError(t, a.Close())
		m.checkNoSMTPPassword(t)
		if t.Failed() {
			t.Logf("app log:\n%s", m.log())
		}
	})

	root := m.signin(t, "root", "root-password-for-tests")
	m.ok(t, root, "/v1/admin/users/create", `[{"username":"admin1","password":"admin1-password","permissions":{"admin":true}}]`)
	m.admin = m.signin(t, "admin1", "admin1-password")
	m.storeSMTP(t, m.srv.Host, m.srv.Port, mailSMTPPass)
	r := m.ok(t, m.admin, "/v1/admin/settings/test-smtp", `[{}]`)
	assert.Empty(t, r.Result.Data)
	return m
}

// storeSMTP points the settings at an SMTP server, as an administrator.
func (m *mailApp) storeSMTP(t *testing.T, host string, port int, password string) {
	t.Helper()
	body, err := json.Marshal([]map[string]any{{
		"app_url": mailAppURL, "smtp_from": "Example <noreply@example.com>",
		"smtp_hostname": host, "smtp_port": port, "smtp_username": mailSMTPUser, "smtp_password": password,
	}})
	require.NoError(t, err)
	r := m.ok(t, m.admin, "/v1/admin/settings/update", string(body))
	var s struct {
		Host        string `json:"smtp_hostname"`
		PasswordSet bool   `json:"smtp_password_set"`
	}
	require.NoError(t, json.Unmarshal(r.Result.Data, &s))
	assert.Equal(t, host, s.Host)
	assert.True(t, s.PasswordSet)
}

// checkNoSMTPPassword looks for the SMTP password in every answer, the log
// and the mails.
func (m *mailApp) checkNoSMTPPassword(t *testing.T) {
	m.mu.Lock()
	answers := append([]string(nil), m.answers...)
	m.mu.Unlock()
	assert.NotEmpty(t, answers)
	for _, raw := range answers {
		assert.NotContains(t, raw, mailSMTPPass)
	}
	assert.NotContains(t, m.log(), mailSMTPPass)
	for _, msg := range m.srv.Messages() {
		assert.NotContains(t, string(msg.Raw), mailSMTPPass)
	}
}

// do sends a request and records the answer.
func (m *mailApp) do(t *testing.T, req *http.Request) reply {
	t.Helper()
	r := m.send(t, req)
	m.mu.Lock()
	m.answers = append(m.answers, r.Raw)
	m.mu.Unlock()
	return r
}

// call POSTs params to method as the holder of token ("" for a guest).
func (m *mailApp) call(t *testing.T, token, method, params string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, m.url+method, strings.NewReader(params))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return m.do(t, req)
}

func (m *mailApp) ok(t *testing.T, token, method, params string) reply {
	t.Helper()
	r := m.call(t, token, method, params)
	require.Equal(t, 200, r.HTTP, "%s: %s", method, r.Raw)
	return r
}

// refused calls and requires the answer's code and HTTP status.
func (m *mailApp) refused(t *testing.T, code, status int, token, method, params string) reply {
	t.Helper()
	r := m.call(t, token, method, params)
	require.Equal(t, code, r.code(), "%s: %s", method, r.Raw)
	require.Equal(t, status, r.HTTP, r.Raw)
	return r
}

func (m *mailApp) signin(t *testing.T, name, password string) string {
	t.Helper()
	r := m.ok(t, "", "/v1/session/signin", fmt.Sprintf(`[{"username":%q,"password":%q}]`, name, password))
	var s struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal(r.Result.Data, &s))
	require.NotEmpty(t, s.Token)
	return s.Token
}

func (m *mailApp) emailConfirmed(t *testing.T, session string) bool {
	t.Helper()
	var u struct {
		EmailConfirmed bool `json:"email_confirmed"`
	}
	require.NoError(t, json.Unmarshal(m.ok(t, session, "/v1/profile/read", ``).Result.Data, &u))
	return u.EmailConfirmed
}

// drain closes the users module, which sends the mails still queued: after
// it the server holds every mail the app sends.
func (m *mailApp) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, m.users.Close(ctx))
}

// mailedToken checks that msg links to mailAppURL+path in its text and its
// HTML, and returns the link's token.
func mailedToken(t *testing.T, msg mailertest.Message, path string) string {
	t.Helper()
	re := regexp.MustCompile(`https?://[^\s"<>]*token=[A-Za-z0-9_%-]+`)
	links := re.FindAllString(msg.Text, -1)
	require.Len(t, links, 1, "one link in the text:\n%s", msg.Text)
	link := links[0]
	prefix := mailAppURL + path + "?token="
	require.True(t, strings.HasPrefix(link, prefix), "%s starts with %s", link, prefix)
	assert.Contains(t, msg.HTML, `href="`+html.EscapeString(link)+`"`, "the HTML part has the same link")
	return strings.TrimPrefix(link, prefix)
}

// eachMail runs fn against a mailApp on SQLite and, when TEST_POSTGRES_DSN
// is set, on PostgreSQL.
func eachMail(t *testing.T, fn func(t *testing.T, m *mailApp)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, startMailApp(t, storagetest.SQLiteDSN(t))) })
	t.Run("postgres", func(t *testing.T) { fn(t, startMailApp(t, storagetest.PostgresDSN(t))) })
}

func quoted(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// The "Checked by": SMTP settings stored and tested, a reset asked
// for, the mail received, a new password set with its token and signed in
// with; the token does not work twice; the SMTP password is never answered.
func TestEmailPasswordReset(t *testing.T) {
	t.Parallel()
	eachMail(t, func(t *testing.T, m *mailApp) {
		root := m.signin(t, "root", "root-password-for-tests")
		m.ok(t, root, "/v1/admin/users/create", `[{"username":"carol","password":"carol-old-password","email":"carol@example.com"}]`)
		old := m.signin(t, "carol", "carol-old-password")

		// The request names another host: the link ignores it.
		req, err := http.NewRequest(http.MethodPost, m.url+"/v1/session/send-password-reset-email", strings.NewReader(`["carol"]`))
		require.NoError(t, err)
		req.Host = "evil.example"
		req.Header.Set("X-Forwarded-Host", "evil.example")
		r := m.do(t, req)
		require.Equal(t, 200, r.HTTP, r.Raw)
		assert.Empty(t, r.Result.Data)

		msg := m.srv.Wait(t, 1, 10*time.Second)
		assert.Equal(t, []string{"carol@example.com"}, msg.To)
		assert.Equal(t, "noreply@example.com", msg.From)
		assert.Equal(t, "Reset your password", msg.Subject)
		assert.NotContains(t, string(msg.Raw), "evil.example")
		token := mailedToken(t, msg, "/reset-password")

		m.ok(t, "", "/v1/session/set-password-by-token", `[`+quoted(token)+`,"carol-new-password"]`)
		m.refused(t, 401, 401, "", "/v1/session/signin", `[{"username":"carol","password":"carol-old-password"}]`)
		carol := m.signin(t, "carol", "carol-new-password")
		m.refused(t, -32801, 401, old, "/v1/profile/read", ``)
		r = m.refused(t, 400, 400, "", "/v1/session/set-password-by-token", `[`+quoted(token)+`,"carol-third-password"]`)
		assert.Equal(t, "invalid or expired token", r.Error.Message)
		m.signin(t, "carol", "carol-new-password")
		assert.True(t, m.emailConfirmed(t, carol), "the reset confirmed her email")
	})
}

func TestEmailConfirmation(t *testing.T) {
	t.Parallel()
	eachMail(t, func(t *testing.T, m *mailApp) {
		root := m.signin(t, "root", "root-password-for-tests")
		m.ok(t, root, "/v1/admin/users/create", `[{"username":"dave","password":"dave-password","email":"dave@example.com"}]`)
		dave := m.signin(t, "dave", "dave-password")
		require.False(t, m.emailConfirmed(t, dave))

		r := m.ok(t, "", "/v1/session/send-confirmation-email", `["Dave@Example.com"]`)
		assert.Empty(t, r.Result.Data)
		msg := m.srv.Wait(t, 1, 10*time.Second)
		assert.Equal(t, []string{"dave@example.com"}, msg.To)
		assert.Equal(t, "Confirm your email address", msg.Subject)
		token := mailedToken(t, msg, "/confirm-email")

		// A confirmation token is not a reset token.
		m.refused(t, 400, 400, "", "/v1/session/set-password-by-token", `[`+quoted(token)+`,"dave-new-password"]`)
		m.ok(t, "", "/v1/session/confirm-email-by-token", `[`+quoted(token)+`]`)
		assert.True(t, m.emailConfirmed(t, dave))
		r = m.refused(t, 400, 400, "", "/v1/session/confirm-email-by-token", `[`+quoted(token)+`]`)
		assert.Equal(t, "invalid or expired token", r.Error.Message)
		m.signin(t, "dave", "dave-password") // confirming changed no password
	})
}

// A second link voids the first; the send methods answer alike whoever is
// named, and are rate limited alike.
func TestEmailLinksVoidingAnswersAndLimits(t *testing.T) {
	t.Parallel()
	eachMail(t, func(t *testing.T, m *mailApp) {
		root := m.signin(t, "root", "root-password-for-tests")
		for _, u := range []string{
			`{"username":"carol","password":"carol-password","email":"carol@example.com"}`,
			`{"username":"nomail","password":"nomail-password"}`,
			`{"username":"off","password":"off-password","email":"off@example.com","enabled":false}`,
			`{"username":"ratey","password":"ratey-password","email":"ratey@example.com"}`,
		} {
			m.ok(t, root, "/v1/admin/users/create", `[`+u+`]`)
		}
		const send = "/v1/session/send-password-reset-email"

		m.ok(t, "", send, `["carol"]`)
		first := mailedToken(t, m.srv.Wait(t, 1, 10*time.Second), "/reset-password")
		m.ok(t, "", send, `["carol@example.com"]`)
		second := mailedToken(t, m.srv.Wait(t, 2, 10*time.Second), "/reset-password")
		m.refused(t, 400, 400, "", "/v1/session/set-password-by-token", `[`+quoted(first)+`,"carol-new-password"]`)
		m.ok(t, "", "/v1/session/set-password-by-token", `[`+quoted(second)+`,"carol-new-password"]`)

		known := m.ok(t, "", send, `["carol"]`).Raw
		for _, who := range []string{"nobody", "nobody@example.com", "nomail", "off", "root", "x"} {
			r := m.ok(t, "", send, `[`+quoted(who)+`]`)
			assert.Equal(t, known, r.Raw, "%q answers as carol does", who)
		}

		for _, who := range []string{"ratey", "nobody-at-all"} {
			for range 3 {
				m.ok(t, "", send, `[`+quoted(who)+`]`)
			}
			r := m.refused(t, 429, 429, "", send, `[`+quoted(who)+`]`)
			assert.Contains(t, r.Error.Message, "too many emails")
		}

		m.drain(t)
		var got []string
		for _, msg := range m.srv.Messages()[2:] {
			got = append(got, msg.To[0])
		}
		// carol: the notice that her password changed, and the third reset link.
		assert.ElementsMatch(t, []string{"carol@example.com", "carol@example.com", "ratey@example.com", "ratey@example.com", "ratey@example.com"}, got,
			"mail only for users with an email who may get it")
	})
}

// test-smtp through the app against a server that refuses AUTH (its reply
// is quoted) and a port where nothing listens; mail to them fails in the
// log, never in the answer.
func TestEmailSMTPFailures(t *testing.T) {
	t.Parallel()
	eachMail(t, func(t *testing.T, m *mailApp) {
		root := m.signin(t, "root", "root-password-for-tests")
		m.ok(t, root, "/v1/admin/users/create", `[{"username":"carol","password":"carol-password","email":"carol@example.com"}]`)
		const send = "/v1/session/send-password-reset-email"
		answer := m.ok(t, "", send, `["nobody"]`).Raw

		refusing := mailertest.NewServer(t, mailertest.Options{Username: mailSMTPUser, Password: "not-" + mailSMTPPass})
		m.storeSMTP(t, refusing.Host, refusing.Port, mailSMTPPass)
		r := m.refused(t, 400, 400, m.admin, "/v1/admin/settings/test-smtp", `[{}]`)
		assert.Equal(t, "SMTP test failed: smtp "+refusing.Addr()+": AUTH: 535 5.7.8 Authentication failed", r.Error.Message)
		assert.Equal(t, answer, m.ok(t, "", send, `["carol"]`).Raw)
		require.Eventually(t, func() bool { return strings.Contains(m.log(), "AUTH: 535 5.7.8 Authentication failed") }, 10*time.Second, 10*time.Millisecond)
		assert.Contains(t, m.log(), "password reset mail not sent")

		host, port := mailertest.Unreachable(t)
		m.storeSMTP(t, host, port, mailSMTPPass)
		r = m.refused(t, 400, 400, m.admin, "/v1/admin/settings/test-smtp", `[{}]`)
		assert.Contains(t, r.Error.Message, fmt.Sprintf("smtp %s:%d: connect: dial tcp %s:%d: connect: connection refused", host, port, host, port))
		assert.Equal(t, answer, m.ok(t, "", "/v1/session/send-confirmation-email", `["carol"]`).Raw)
		m.drain(t)
		assert.Contains(t, m.log(), "email confirmation mail not sent")
		assert.Empty(t, refusing.Messages())
		assert.Empty(t, m.srv.Messages())
	})
}

// test-smtp against a server that never says a word answers once the
// mailer's bound (10 s in the example app) runs out, with the reason: the
// message names the bound that ended the wait (the call's own deadline is
// longer).
func TestEmailSMTPSilentServer(t *testing.T) {
	longtest.Skip(t, "waits for the app's 10 s SMTP timeout")
	t.Parallel()
	m := startMailApp(t, storagetest.SQLiteDSN(t))
	host, port := mailertest.Silent(t)
	r := m.refused(t, 400, 400, m.admin, "/v1/admin/settings/test-smtp",
		fmt.Sprintf(`[{"smtp_hostname":%q,"smtp_port":%d,"smtp_password":"x"}]`, host, port))
	assert.Contains(t, r.Error.Message, "greeting: no answer within 10s")
}
