package mailer_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/mailer"
	"github.com/authrpc/authrpc/mailer/mailertest"
)

const (
	user     = "mailer@example.com"
	password = "s3cret-Pa55word-never-shown"
)

func TestTestConnectsSecuresAuthenticatesAndQuits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts mailertest.Options
	}{
		{"plain, no AUTH", mailertest.Options{}},
		{"plain with AUTH PLAIN", mailertest.Options{Username: user, Password: password}},
		{"STARTTLS with AUTH", mailertest.Options{Mode: mailertest.StartTLS, Username: user, Password: password}},
		{"implicit TLS with AUTH", mailertest.Options{Mode: mailertest.ImplicitTLS, Username: user, Password: password}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := mailertest.NewServer(t, tc.opts)
			require.NoError(t, mailer.Test(context.Background(), srv.Config(), srv.MailerOptions()))
		})
	}
}

// smtpError asserts that err is a *mailer.Error failing at op.
func smtpError(t *testing.T, err error, op string) *mailer.Error {
	t.Helper()
	require.Error(t, err)
	var e *mailer.Error
	require.ErrorAs(t, err, &e, "%v", err)
	assert.Equal(t, op, e.Op, "%v", err)
	assert.NotContains(t, err.Error(), password)
	return e
}

func TestTestQuotesTheRefusal(t *testing.T) {
	t.Parallel()
	srv := mailertest.NewServer(t, mailertest.Options{Mode: mailertest.StartTLS, Username: user, Password: password + "-other"})
	err := mailer.Test(context.Background(), srv.Config(), srv.MailerOptions())
	assert.NoError(t, err, "the server's own credentials")

	cfg := srv.Config()
	cfg.Password = password
	err = mailer.Test(context.Background(), cfg, srv.MailerOptions())
	e := smtpError(t, err, mailer.OpAuth)
	assert.Equal(t, 535, e.Code)
	assert.Equal(t, "smtp "+srv.Addr()+": AUTH: 535 5.7.8 Authentication failed", err.Error())
}

func TestTestUnreachable(t *testing.T) {
	t.Parallel()
	host, port := mailertest.Unreachable(t)
	err := mailer.Test(context.Background(), mailer.Config{Host: host, Port: port}, mailer.Options{})
	e := smtpError(t, err, mailer.OpConnect)
	assert.Zero(t, e.Code)
	assert.False(t, e.Timeout)
	assert.Contains(t, err.Error(), "connect: connection refused")
}

func TestTestSilentServerTimesOut(t *testing.T) {
	t.Parallel()
	host, port := mailertest.Silent(t)
	// The caller's context has a deadline far beyond the timeout: the
	// message names the bound that ended the wait, so it was the timeout.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := mailer.Test(ctx, mailer.Config{Host: host, Port: port, Username: user, Password: password},
		mailer.Options{Timeout: 300 * time.Millisecond})
	e := smtpError(t, err, mailer.OpGreeting)
	assert.True(t, e.Timeout)
	assert.Contains(t, err.Error(), "greeting: no answer within 300ms")
}

func TestTestHonoursContext(t *testing.T) {
	t.Parallel()
	// The mailer's own timeout is an hour: only the context can end these.
	// Cancelled once the server has the EHLO: mid-session, waiting for the
	// reply.
	host, port, ehlo := greetsThenSilent(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- mailer.Test(ctx, mailer.Config{Host: host, Port: port}, mailer.Options{Timeout: time.Hour})
	}()
	select {
	case <-ehlo:
	case err := <-errc:
		t.Fatalf("ended before its EHLO: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no EHLO within 10s")
	}
	cancel()
	err := <-errc
	smtpError(t, err, mailer.OpHello)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "EHLO: interrupted: context canceled")

	host, port = mailertest.Silent(t)
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = mailer.Test(ctx, mailer.Config{Host: host, Port: port}, mailer.Options{Timeout: time.Hour})
	e := smtpError(t, err, mailer.OpGreeting)
	assert.True(t, e.Timeout, "the caller's deadline counts as a timeout: %v", err)
	assert.Contains(t, err.Error(), "greeting: no answer within 200ms")
}

// greetsThenSilent starts a server on 127.0.0.1 that greets each client,
// reports on the channel when the client's EHLO arrives, and then says
// nothing more. It stops when the test ends.
func greetsThenSilent(t *testing.T) (host string, port int, ehlo <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	got := make(chan struct{}, 16)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_, _ = io.WriteString(c, "220 mail.example.com ESMTP\r\n")
				line, err := bufio.NewReader(c).ReadString('\n')
				if err == nil && strings.HasPrefix(line, "EHLO ") {
					got <- struct{}{}
				}
				_, _ = io.Copy(io.Discard, c) // silent until the client goes
			})
		}
	})
	return "127.0.0.1", ln.Addr().(*net.TCPAddr).Port, got
}

func TestTestRejectsUntrustedCertificates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode mailertest.Mode
		op   string
	}{{mailertest.StartTLS, mailer.OpStartTLS}, {mailertest.ImplicitTLS, mailer.OpTLS}} {
		srv := mailertest.NewServer(t, mailertest.Options{Mode: tc.mode, Username: user, Password: password})
		opts := srv.MailerOptions()
		opts.TLSConfig = nil // the system's roots do not know the test's certificate
		err := mailer.Test(context.Background(), srv.Config(), opts)
		smtpError(t, err, tc.op)
		assert.Contains(t, err.Error(), "certificate")
	}
}

func TestTestNeedsAHost(t *testing.T) {
	t.Parallel()
	err := mailer.Test(context.Background(), mailer.Config{}, mailer.Options{})
	assert.ErrorIs(t, err, mailer.ErrNotConfigured)
}

func TestTestWithoutAUTHOnOffer(t *testing.T) {
	t.Parallel()
	srv := mailertest.NewServer(t, mailertest.Options{})
	cfg := srv.Config()
	cfg.Username, cfg.Password = user, password
	err := mailer.Test(context.Background(), cfg, srv.MailerOptions())
	smtpError(t, err, mailer.OpAuth)
	assert.Contains(t, err.Error(), "the server offers no AUTH")
}

func TestSendTemplate(t *testing.T) {
	t.Parallel()
	for _, mode := range []mailertest.Mode{mailertest.Plain, mailertest.StartTLS, mailertest.ImplicitTLS} {
		srv := mailertest.NewServer(t, mailertest.Options{Mode: mode, Username: user, Password: password})
		m := mailer.New(func(ctx context.Context) (mailer.Config, error) { return srv.Config(), nil }, srv.MailerOptions())
		link := "https://app.example.com/confirm?token=em_abc-DEF_123"
		expires := time.Now().Add(24 * time.Hour)
		err := m.SendTemplate(context.Background(), "Ann <ann@example.org>", mailer.TemplateConfirmEmail,
			mailer.LinkData{Username: "ann", Link: link, ExpiresAt: expires})
		require.NoError(t, err)

		got := srv.Wait(t, 1, 5*time.Second)
		assert.Equal(t, mode != mailertest.Plain, got.TLS)
		assert.Equal(t, "noreply@example.com", got.From)
		assert.Equal(t, []string{"ann@example.org"}, got.To)
		assert.Equal(t, `"Example" <noreply@example.com>`, got.Header.Get("From"))
		assert.Equal(t, `"Ann" <ann@example.org>`, got.Header.Get("To"))
		assert.Equal(t, "Confirm your email address", got.Subject)
		assert.Equal(t, "auto-generated", got.Header.Get("Auto-Submitted"))
		assert.True(t, strings.HasSuffix(got.Header.Get("Message-Id"), "@example.com>"), got.Header.Get("Message-Id"))
		assert.NotEmpty(t, got.Header.Get("Date"))

		assert.Contains(t, got.Text, "Hello ann,")
		assert.Contains(t, got.Text, "\n"+link+"\n")
		assert.Contains(t, got.Text, "for 24 hours (until "+expires.UTC().Format("2006-01-02 15:04 UTC")+")")
		assert.Contains(t, got.HTML, `<a href="`+link+`">`)
		assert.Contains(t, got.HTML, "for 24 hours")
	}
}

func TestHostTemplates(t *testing.T) {
	t.Parallel()
	srv := mailertest.NewServer(t, mailertest.Options{})
	m := mailer.New(func(ctx context.Context) (mailer.Config, error) { return srv.Config(), nil }, srv.MailerOptions())

	require.NoError(t, m.SetTemplate(mailer.TemplateResetPassword, mailer.Template{
		Subject: "Acme: a new password for {{.Username}}",
		Text:    "Go to {{.Link}} within {{until .ExpiresAt}}.",
		HTML:    `<p>Go <a href="{{.Link}}">here</a>, {{.Username}}.</p>`,
	}))
	require.NoError(t, m.SetTemplate("welcome", mailer.Template{
		Subject: "Welcome, {{.Name}}",
		HTML:    "<b>Hi {{.Name}}</b>",
	}))

	data := mailer.LinkData{Username: "<b>bob</b>", Link: "https://x.example/r?token=t1", ExpiresAt: time.Now().Add(time.Hour)}
	require.NoError(t, m.SendTemplate(context.Background(), "bob@example.org", mailer.TemplateResetPassword, data))
	require.NoError(t, m.SendTemplate(context.Background(), "carol@example.org", "welcome", map[string]string{"Name": "Carol"}))

	reset := srv.Wait(t, 1, 5*time.Second)
	assert.Equal(t, "Acme: a new password for <b>bob</b>", reset.Subject)
	assert.Equal(t, "Go to https://x.example/r?token=t1 within 1 hour.", reset.Text)
	assert.Equal(t, `<p>Go <a href="https://x.example/r?token=t1">here</a>, &lt;b&gt;bob&lt;/b&gt;.</p>`, reset.HTML,
		"the HTML template escapes the data")

	welcome := srv.Wait(t, 2, 5*time.Second)
	assert.Equal(t, "Welcome, Carol", welcome.Subject)
	assert.Equal(t, "<b>Hi Carol</b>", welcome.HTML)
	assert.Empty(t, welcome.Text, "an HTML-only template sends one part")

	err := m.SendTemplate(context.Background(), "carol@example.org", "welcome", map[string]string{})
	assert.ErrorContains(t, err, `render "welcome"`)
	err = m.SendTemplate(context.Background(), "carol@example.org", "nope", nil)
	assert.ErrorContains(t, err, `no template "nope"`)
	assert.Len(t, srv.Messages(), 2)
}

func TestSetTemplateChecks(t *testing.T) {
	t.Parallel()
	m := mailer.New(func(ctx context.Context) (mailer.Config, error) { return mailer.Config{}, nil }, mailer.Options{})
	assert.ErrorContains(t, m.SetTemplate("x", mailer.Template{Text: "hi"}), "no subject")
	assert.ErrorContains(t, m.SetTemplate("x", mailer.Template{Subject: "hi"}), "no body")
	assert.ErrorContains(t, m.SetTemplate("x", mailer.Template{Subject: "{{.A", Text: "hi"}), "subject")
	assert.ErrorContains(t, m.SetTemplate("x", mailer.Template{Subject: "s", HTML: "{{if}}"}), "html")
	assert.Error(t, m.SetTemplate("", mailer.Template{Subject: "s", Text: "t"}))
}

func TestRenderBuiltins(t *testing.T) {
	t.Parallel()
	m := mailer.New(nil, mailer.Options{})
	for _, name := range []string{mailer.TemplateConfirmEmail, mailer.TemplateResetPassword} {
		msg, err := m.Render(name, mailer.LinkData{Username: "ann", Link: "https://a.example/x?token=1&b=<2>"})
		require.NoError(t, err, name)
		assert.Contains(t, msg.Text, "https://a.example/x?token=1&b=<2>", name)
		assert.Contains(t, msg.HTML, `href="https://a.example/x?token=1&amp;b=%3c2%3e"`, name)
		assert.Contains(t, msg.Text, "It works once.", "no expiry given: %s", name)
	}
	msg, err := m.Render(mailer.TemplateResetPassword, mailer.LinkData{ExpiresAt: time.Now().Add(30 * 24 * time.Hour)})
	require.NoError(t, err)
	assert.Contains(t, msg.Text, "for 30 days")
	msg, err = m.Render(mailer.TemplateResetPassword, mailer.LinkData{ExpiresAt: time.Now().Add(15 * time.Minute)})
	require.NoError(t, err)
	assert.Contains(t, msg.Text, "for 15 minutes")
}

func TestRenderNotices(t *testing.T) {
	t.Parallel()
	m := mailer.New(nil, mailer.Options{})
	at := time.Date(2026, 12, 6, 18, 30, 0, 0, time.UTC)
	msg, err := m.Render(mailer.TemplateNewSignin, mailer.NoticeData{
		Username: "ann", Time: at, Device: "iPhone", Browser: "Safari 17", OS: "iOS 17.1",
		Address: "198.51.100.7", Link: "https://a.example/#/security?x=<1>",
	})
	require.NoError(t, err)
	assert.Equal(t, "New sign-in to your account", msg.Subject)
	for _, want := range []string{"iPhone", "Safari 17", "iOS 17.1", "198.51.100.7", "2026-12-06 18:30 UTC", "https://a.example/#/security?x=<1>"} {
		assert.Contains(t, msg.Text, want)
	}
	assert.Contains(t, msg.HTML, `href="https://a.example/#/security?x=%3c1%3e"`)

	msg, err = m.Render(mailer.TemplateNewSignin, mailer.NoticeData{Username: "ann", Time: at})
	require.NoError(t, err)
	assert.Contains(t, msg.Text, "Device:  unknown")
	assert.NotContains(t, msg.Text, "See your sessions", "no link without an app URL")

	msg, err = m.Render(mailer.TemplatePasswordChanged, mailer.NoticeData{Username: "ann", Time: at})
	require.NoError(t, err)
	assert.Contains(t, msg.Text, "password of your account was changed at 2026-12-06 18:30 UTC")

	msg, err = m.Render(mailer.TemplateEmailChanged, mailer.NoticeData{Username: "ann", Time: at, NewEmail: "new@example.org"})
	require.NoError(t, err)
	assert.Contains(t, msg.Text, "changed to new@example.org")
	msg, err = m.Render(mailer.TemplateEmailChanged, mailer.NoticeData{Username: "ann", Time: at})
	require.NoError(t, err)
	assert.Contains(t, msg.Text, "was removed")

	msg, err = m.Render(mailer.TemplateFactorsRemoved, mailer.NoticeData{Username: "ann", Time: at})
	require.NoError(t, err)
	assert.Equal(t, "Your second factors were removed", msg.Subject)
	assert.Contains(t, msg.Text, "removed the second factors of your account (authenticator app, recovery codes and passkeys) at 2026-12-06 18:30 UTC")
	assert.Contains(t, msg.HTML, "ended your sessions")
}

func TestSendRefusals(t *testing.T) {
	t.Parallel()
	srv := mailertest.NewServer(t, mailertest.Options{Username: user, Password: password})
	cfg := srv.Config()
	source := func(ctx context.Context) (mailer.Config, error) { return cfg, nil }
	m := mailer.New(source, srv.MailerOptions())
	msg := mailer.Message{To: "ann@example.org", Subject: "s", Text: "t"}

	cfg.Username = "" // the server wants AUTH before MAIL
	e := smtpError(t, m.Send(context.Background(), msg), mailer.OpMailFrom)
	assert.Equal(t, 530, e.Code)

	cfg = srv.Config()
	cfg.From = ""
	assert.ErrorIs(t, m.Send(context.Background(), msg), mailer.ErrNotConfigured)
	cfg = mailer.Config{From: "a@example.com"}
	assert.ErrorIs(t, m.Send(context.Background(), msg), mailer.ErrNotConfigured)

	cfg = srv.Config()
	for _, bad := range []mailer.Message{
		{To: "not an address", Subject: "s", Text: "t"},
		{To: "ann@example.org\r\nBcc: eve@example.org", Subject: "s", Text: "t"},
		{To: "ann@example.org", Subject: "s"},
	} {
		err := m.Send(context.Background(), bad)
		require.Error(t, err, "%q", bad.To)
		var se *mailer.Error
		assert.False(t, errors.As(err, &se), "refused before connecting: %v", err)
	}

	// A subject with line breaks stays one header line.
	require.NoError(t, m.Send(context.Background(), mailer.Message{To: "ann@example.org", Subject: "a\r\nBcc: eve@example.org", Text: "t"}))
	got := srv.Wait(t, 1, 5*time.Second)
	assert.Equal(t, "a Bcc: eve@example.org", got.Subject)
	assert.Empty(t, got.Header.Get("Bcc"))
	assert.Equal(t, []string{"ann@example.org"}, got.To)

	failing := mailer.New(func(ctx context.Context) (mailer.Config, error) { return mailer.Config{}, errors.New("db down") }, mailer.Options{})
	assert.ErrorContains(t, failing.Send(context.Background(), msg), "db down")
}

func TestConcurrentSendsAndTemplateChanges(t *testing.T) {
	t.Parallel()
	srv := mailertest.NewServer(t, mailertest.Options{Mode: mailertest.StartTLS, Username: user, Password: password})
	m := mailer.New(func(ctx context.Context) (mailer.Config, error) { return srv.Config(), nil }, srv.MailerOptions())
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- m.SendTemplate(context.Background(), "ann@example.org", mailer.TemplateConfirmEmail,
				mailer.LinkData{Username: "ann", Link: "https://a.example/c"})
		}()
		go func() {
			defer wg.Done()
			errs <- m.SetTemplate("other", mailer.Template{Subject: "s", Text: strings.Repeat("x", i+1)})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Len(t, srv.Messages(), n)
}
