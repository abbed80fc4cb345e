package users_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/mailer"
	"github.com/authrpc/authrpc/mailer/mailertest"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

const (
	testAppURL   = "https://app.example.com"
	smtpUser     = "mailer@example.com"
	smtpPassword = "smtp-Pa55word-never-shown"

	sendConfirm  = "/v1/session/send-confirmation-email"
	confirmEmail = "/v1/session/confirm-email-by-token"
	sendReset    = "/v1/session/send-password-reset-email"
	setPassword  = "/v1/session/set-password-by-token"

	badToken = "invalid or expired token"
)

// withMail makes the module mail through srv (with its credentials), with
// links from testAppURL.
func withMail(srv *mailertest.Server) func(*users.Options) {
	return func(o *users.Options) {
		o.Mailer = mailer.New(func(context.Context) (mailer.Config, error) { return srv.Config(), nil }, srv.MailerOptions())
		o.AppURL = func(context.Context) (string, error) { return testAppURL, nil }
	}
}

// runMail is run with an SMTP server (AUTH on) per database that the
// module mails through; the security notices are off (notices_test.go
// turns them on), so that the links are the only mail.
func runMail(t *testing.T, fn func(t *testing.T, e *env, srv *mailertest.Server), tweak ...func(*users.Options)) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		srv := mailertest.NewServer(t, mailertest.Options{Username: smtpUser, Password: smtpPassword})
		fn(t, newEnv(t, db, append([]func(*users.Options){withMail(srv), noNotices}, tweak...)...), srv)
	})
}

// noNotices turns the security notices off.
func noNotices(o *users.Options) {
	o.SecurityMail = func(context.Context, string) (bool, error) { return false, nil }
}

// createWithEmail makes an enabled user with a password and an email.
func (e *env) createWithEmail(t *testing.T, rootTok, name, password, email string) userRec {
	t.Helper()
	a := e.ok(t, rootTok, "/v1/admin/users/create", map[string]any{"username": name, "password": password, "email": email})
	var u userRec
	a.Decode(t, &u)
	return u
}

// drain closes the module, which waits for the mails in flight: after it,
// the server holds every mail the module will send.
func (e *env) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.mod.Close(ctx))
}

// linkToken finds the link testAppURL+path+"?token=…" in both bodies of
// msg and returns its token.
func linkToken(t *testing.T, msg mailertest.Message, path string) string {
	t.Helper()
	return linkTokenAt(t, msg, testAppURL+path+"?token=")
}

// linkTokenAt finds the link prefix+token in both bodies of msg and returns
// the token.
func linkTokenAt(t *testing.T, msg mailertest.Message, prefix string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(prefix) + `([a-z]{3}_[A-Za-z0-9_-]{43})`)
	m := re.FindStringSubmatch(msg.Text)
	require.NotNil(t, m, "no link %s… in the text:\n%s", prefix, msg.Text)
	assert.Contains(t, msg.HTML, `href="`+html.EscapeString(m[0])+`"`, "the HTML part links the same")
	return m[1]
}

func (e *env) profile(t *testing.T, token string) userRec {
	t.Helper()
	var u userRec
	e.ok(t, token, "/v1/profile/read").Decode(t, &u)
	return u
}

func TestPasswordResetByMail(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-old-password", "Carol@Example.com")
		session := e.signin(t, "carol", "carol-old-password")

		// The Host header is the attacker's: the link must not follow it.
		hr := httptest.NewRequest(http.MethodPost, sendReset, strings.NewReader(`["carol"]`))
		hr.Header.Set("Content-Type", "application/json")
		hr.Host = "evil.example"
		a := e.c.With("X-Forwarded-Host", "evil.example").Do(t, hr)
		require.Equal(t, 200, a.HTTP, a.Raw)
		assert.Empty(t, a.Data, "no data")

		msg := srv.Wait(t, 1, 5*time.Second)
		assert.Equal(t, []string{"carol@example.com"}, msg.To)
		assert.Equal(t, "noreply@example.com", msg.From)
		assert.Equal(t, "Reset your password", msg.Subject)
		assert.Contains(t, msg.Text, "Hello carol,")
		assert.NotContains(t, msg.Text+msg.HTML, "evil.example")
		token := linkToken(t, msg, "/reset-password")
		assert.True(t, strings.HasPrefix(token, "rst_"), token)

		// Only the digest is stored.
		var stored struct {
			Digest []byte    `bun:"digest"`
			Kind   string    `bun:"kind"`
			Email  string    `bun:"email"`
			Exp    time.Time `bun:"expires"`
		}
		require.NoError(t, e.db.NewSelect().Table("user_tokens").Column("digest", "kind", "email", "expires").Scan(context.Background(), &stored))
		assert.Equal(t, auth.Digest(token), stored.Digest)
		assert.Equal(t, "rst", stored.Kind)
		assert.Equal(t, "carol@example.com", stored.Email)
		assert.WithinDuration(t, e.clock.Now().Add(users.DefaultResetPasswordTTL), stored.Exp, time.Second)
		var dump []map[string]any
		require.NoError(t, e.db.NewSelect().Table("user_tokens").Scan(context.Background(), &dump))
		assert.NotContains(t, strings.ToLower(jsonText(t, dump)), strings.ToLower(token[4:]))

		// A password that breaks the rules does not use the token up.
		a = e.refused(t, 400, "", setPassword, token, "short")
		assert.Contains(t, a.Message, "password")
		e.ok(t, "", setPassword, token, "carol-new-password")

		e.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "carol", "password": "carol-old-password"})
		newSession := e.signin(t, "carol", "carol-new-password")
		e.refused(t, rpc.CodeInsufficientPermissions, session, "/v1/profile/read")
		a = e.refused(t, 400, "", setPassword, token, "carol-third-password")
		assert.Equal(t, badToken, a.Message)
		e.signin(t, "carol", "carol-new-password")

		assert.True(t, e.profile(t, newSession).EmailConfirmed, "the mail reached her: the email is confirmed")
		assert.Zero(t, e.count(t, "user_tokens"))
	})
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestConfirmEmailByMail(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "dave", "dave-password", "dave@example.com")
		tok := e.signin(t, "dave", "dave-password")
		require.False(t, e.profile(t, tok).EmailConfirmed)

		// By email, in any case.
		e.ok(t, "", sendConfirm, "DAVE@example.com")
		msg := srv.Wait(t, 1, 5*time.Second)
		assert.Equal(t, []string{"dave@example.com"}, msg.To)
		assert.Equal(t, "Confirm your email address", msg.Subject)
		token := linkToken(t, msg, "/confirm-email")
		assert.True(t, strings.HasPrefix(token, "cnf_"), token)

		a := e.ok(t, "", confirmEmail, token)
		assert.Equal(t, 200, a.Code)
		assert.True(t, e.profile(t, tok).EmailConfirmed)
		a = e.refused(t, 400, "", confirmEmail, token)
		assert.Equal(t, badToken, a.Message)
		e.ok(t, tok, "/v1/profile/read") // confirming ends no session

		// The address changed since the mail: the link confirms nothing.
		e.createWithEmail(t, root, "erin", "erin-password", "erin@example.com")
		erin := e.signin(t, "erin", "erin-password")
		e.ok(t, "", sendConfirm, "erin")
		token = linkToken(t, srv.Wait(t, 2, 5*time.Second), "/confirm-email")
		e.ok(t, erin, "/v1/profile/set-email", "erin@other.example")
		a = e.refused(t, 400, "", confirmEmail, token)
		assert.Contains(t, a.Message, "changed")
		assert.False(t, e.profile(t, erin).EmailConfirmed)
		// Back to the address it was sent to: it proves that one.
		e.ok(t, erin, "/v1/profile/set-email", "erin@example.com")
		e.ok(t, "", confirmEmail, token)
		assert.True(t, e.profile(t, erin).EmailConfirmed)

		// A confirmed address gets no more confirmation mails.
		e.ok(t, "", sendConfirm, "dave")
		e.drain(t)
		assert.Len(t, srv.Messages(), 2)
	})
}

func TestNewLinkVoidsTheOld(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")

		e.ok(t, "", sendConfirm, "carol")
		confirmTok := linkToken(t, srv.Wait(t, 1, 5*time.Second), "/confirm-email")
		e.ok(t, "", sendReset, "carol")
		first := linkToken(t, srv.Wait(t, 2, 5*time.Second), "/reset-password")
		e.ok(t, "", sendReset, "carol@example.com")
		second := linkToken(t, srv.Wait(t, 3, 5*time.Second), "/reset-password")
		assert.NotEqual(t, first, second)

		a := e.refused(t, 400, "", setPassword, first, "carol-new-password")
		assert.Equal(t, badToken, a.Message)
		e.ok(t, "", setPassword, second, "carol-new-password")
		// Voiding is per kind: the confirmation link still works.
		e.ok(t, "", confirmEmail, confirmTok)
	})
}

func TestLinksExpire(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		e.createWithEmail(t, root, "dave", "dave-password", "dave@example.com")

		e.ok(t, "", sendReset, "carol")
		reset := linkToken(t, srv.Wait(t, 1, 5*time.Second), "/reset-password")
		e.ok(t, "", sendConfirm, "carol")
		confirm := linkToken(t, srv.Wait(t, 2, 5*time.Second), "/confirm-email")
		e.ok(t, "", sendReset, "dave")
		daveReset := linkToken(t, srv.Wait(t, 3, 5*time.Second), "/reset-password")

		e.clock.Add(users.DefaultResetPasswordTTL - time.Minute)
		e.ok(t, "", setPassword, daveReset, "dave-new-password") // just in time
		e.clock.Add(2 * time.Minute)
		a := e.refused(t, 400, "", setPassword, reset, "carol-new-password")
		assert.Equal(t, badToken, a.Message)
		e.signin(t, "carol", "carol-password")

		e.clock.Add(users.DefaultConfirmEmailTTL - users.DefaultResetPasswordTTL)
		a = e.refused(t, 400, "", confirmEmail, confirm)
		assert.Equal(t, badToken, a.Message)
	})
}

func TestLinkLifetimeOptions(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		e.ok(t, "", sendReset, "carol")
		reset := linkToken(t, srv.Wait(t, 1, 5*time.Second), "/reset-password")
		e.ok(t, "", sendConfirm, "carol")
		confirm := linkToken(t, srv.Wait(t, 2, 5*time.Second), "/confirm-email")
		e.clock.Add(11 * time.Minute)
		e.refused(t, 400, "", setPassword, reset, "carol-new-password")
		e.ok(t, "", confirmEmail, confirm)
	}, func(o *users.Options) {
		o.ResetPasswordTTL = 10 * time.Minute
		o.ConfirmEmailTTL = 20 * time.Minute
	})
}

func TestExpiredTokensAreDeleted(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		e.ok(t, "", sendReset, "carol")
		e.ok(t, "", sendConfirm, "carol")
		srv.Wait(t, 2, 5*time.Second)
		require.Equal(t, 2, e.count(t, "user_tokens"))
		ctx := context.Background()
		e.clock.Add(users.DefaultResetPasswordTTL + time.Minute)
		e.mod.Cleanup(ctx)
		require.Equal(t, 1, e.count(t, "user_tokens"), "the reset link expired, the confirmation not yet")
		e.clock.Add(users.DefaultConfirmEmailTTL)
		e.mod.Cleanup(ctx)
		require.Equal(t, 0, e.count(t, "user_tokens"))
	})
}

// Whether the user exists, has an email, is disabled, is root or cannot be
// a user at all, both send methods answer the same; only the mails differ.
func TestSendAnswersAlike(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		e.create(t, root, "nomail", "nomail-password", nil)
		e.createWithEmail(t, root, "off", "off-password", "off@example.com")
		e.ok(t, root, "/v1/admin/users/set-enabled", "off", false)
		e.ok(t, root, "/v1/profile/set-email", "root@example.com")
		before := e.snapshot(t)

		for _, method := range []string{sendReset, sendConfirm} {
			var first string
			for i, who := range []any{
				"carol", "nomail", "off", "root", "nobody", "nobody@example.com", "x", "",
				"'; DROP TABLE users; --", strings.Repeat("é", 5000), "a\u0000b", "100", "1",
			} {
				a := e.call(t, "", method, who)
				require.Equal(t, 200, a.HTTP, "%s %q: %s", method, who, a.Raw)
				if i == 0 {
					first = a.Raw
				}
				assert.Equal(t, first, a.Raw, "%s %q: the same answer", method, who)
			}
		}
		e.drain(t)
		var got []string
		for _, m := range srv.Messages() {
			got = append(got, m.To[0]+" "+m.Subject)
		}
		assert.ElementsMatch(t, []string{
			"carol@example.com Reset your password",
			"carol@example.com Confirm your email address",
			// Root may confirm its email, but its password is not reset by mail.
			"root@example.com Confirm your email address",
		}, got)
		assert.Equal(t, before, e.snapshot(t), "no user or session changed")
	}, func(o *users.Options) { o.EmailLimitPerAddr.Burst = -1 })
}

// The answer does not wait for the mail: with a server that never answers
// and a mailer that would wait for it an hour, the call is answered while
// the mail is still in flight (were it waiting, the call would end at its
// deadline instead, 503). Closing the module cancels the mail, and that
// is logged.
func TestSendDoesNotWaitForTheMail(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		host, port := mailertest.Silent(t)
		e := newEnv(t, db, func(o *users.Options) {
			o.Mailer = mailer.New(func(context.Context) (mailer.Config, error) {
				return mailer.Config{Host: host, Port: port, From: "noreply@example.com"}, nil
			}, mailer.Options{Timeout: time.Hour})
			o.AppURL = func(context.Context) (string, error) { return testAppURL, nil }
		})
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		e.ok(t, "", sendReset, "carol")
		assert.NotContains(t, e.logs.String(), "password reset mail", "the mail is still in flight")

		gone, cancel := context.WithCancel(context.Background())
		cancel()
		assert.Error(t, e.mod.Close(gone), "a mail in flight, canceled")
		e.drain(t)
		assert.Contains(t, e.logs.String(), "password reset mail not sent")
	})
}

// A mail that fails is logged with the server's answer; the call answers
// 200 all the same, and the SMTP password shows nowhere.
func TestMailFailuresAreLogged(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		srv := mailertest.NewServer(t, mailertest.Options{Username: smtpUser, Password: "another-password"})
		e := newEnv(t, db, withMail(srv), func(o *users.Options) {
			cfg := srv.Config()
			cfg.Password = smtpPassword // not the server's: AUTH is refused
			o.Mailer = mailer.New(func(context.Context) (mailer.Config, error) { return cfg, nil }, srv.MailerOptions())
		})
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		a := e.ok(t, "", sendReset, "carol")
		b := e.ok(t, "", sendConfirm, "carol")
		assert.Equal(t, a.Raw, b.Raw)
		e.drain(t)
		logs := e.logs.String()
		assert.Contains(t, logs, "password reset mail not sent")
		assert.Contains(t, logs, "email confirmation mail not sent")
		assert.Contains(t, logs, "AUTH: 535 5.7.8 Authentication failed")
		assert.NotContains(t, logs, smtpPassword)
		assert.NotContains(t, logs, "rst_", "no token in the log")
		assert.Empty(t, srv.Messages())
	})
}

func TestMailToAnUnreachableServerIsLogged(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		host, port := mailertest.Unreachable(t)
		e := newEnv(t, db, func(o *users.Options) {
			o.Mailer = mailer.New(func(context.Context) (mailer.Config, error) {
				return mailer.Config{Host: host, Port: port, From: "noreply@example.com"}, nil
			}, mailer.Options{})
			o.AppURL = func(context.Context) (string, error) { return testAppURL, nil }
		})
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		e.ok(t, "", sendReset, "carol")
		e.drain(t)
		assert.Contains(t, e.logs.String(), "connect: connection refused")
	})
}

// Without a mailer or an app URL, mail cannot be sent to anyone: the send
// methods say so, alike for every user_id; the token methods still answer.
func TestMailNotConfigured(t *testing.T) {
	t.Parallel()
	srv := mailertest.NewServer(t, mailertest.Options{})
	m := mailer.New(func(context.Context) (mailer.Config, error) { return srv.Config(), nil }, srv.MailerOptions())
	cases := []struct {
		name  string
		tweak func(*users.Options)
		msg   string
	}{
		{"no mailer", func(o *users.Options) { o.AppURL = func(context.Context) (string, error) { return testAppURL, nil } }, "mail is not configured"},
		{"no app URL", func(o *users.Options) { o.Mailer = m }, "mail is not configured: no app URL to link to"},
		{"app URL not set", func(o *users.Options) {
			o.Mailer = m
			o.AppURL = func(context.Context) (string, error) { return "", errors.New("app_url is not set") }
		}, "mail is not configured: no app URL to link to"},
		{"app URL not a URL", func(o *users.Options) {
			o.Mailer = m
			o.AppURL = func(context.Context) (string, error) { return "ftp://files.example.com", nil }
		}, "mail is not configured: no app URL to link to"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, storagetest.SQLite(t), tc.tweak)
			root := e.root(t)
			e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
			var answers []string
			for _, method := range []string{sendReset, sendConfirm} {
				for _, who := range []string{"carol", "nobody"} {
					a := e.refused(t, 400, "", method, who)
					assert.Equal(t, tc.msg, a.Message)
					answers = append(answers, a.Raw)
				}
			}
			for _, a := range answers {
				assert.Equal(t, answers[0], a)
			}
			e.refused(t, 400, "", confirmEmail, "cnf_"+strings.Repeat("A", 43))
			e.refused(t, 400, "", setPassword, "rst_"+strings.Repeat("A", 43), "a-good-password")
			e.drain(t)
			assert.Empty(t, srv.Messages())
		})
	}
}

func TestSendRateLimits(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")

		// Per user name as given: alike for a user and for nobody.
		for _, who := range []string{"carol", "nobody"} {
			for range 3 {
				e.ok(t, "", sendReset, who)
			}
			a := e.refused(t, 429, "", sendReset, who)
			assert.Contains(t, a.Message, "too many emails")
		}
		// Each method has its own limit.
		e.ok(t, "", sendConfirm, "carol")
		// Her email is another key, but she gets no more than 3 reset mails.
		for range 3 {
			e.ok(t, "", sendReset, "carol@example.com")
		}
		e.refused(t, 429, "", sendReset, "CAROL@example.com")

		srv.Wait(t, 4, 5*time.Second)
		e.clock.Add(5 * time.Minute)
		e.ok(t, "", sendReset, "carol")
		srv.Wait(t, 5, 5*time.Second)
		e.drain(t)
		resets := 0
		for _, m := range srv.Messages() {
			if m.Subject == "Reset your password" {
				resets++
			}
		}
		assert.Equal(t, 4, resets, "3 at once, then one per 5 minutes")
		assert.Contains(t, e.logs.String(), "too many for this user")
	}, func(o *users.Options) { o.EmailLimitPerAddr.Burst = -1 })
}

func TestSendRateLimitPerAddress(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		send := func(method, addr, who string) *rpctest.Answer {
			return e.c.From(addr).Post(t, method, jsonText(t, []string{who}))
		}
		assert.Equal(t, 200, send(sendReset, "192.0.2.7", "a1").Code)
		assert.Equal(t, 200, send(sendConfirm, "192.0.2.7", "a2").Code)
		a := send(sendReset, "192.0.2.7", "a3")
		assert.Equal(t, 429, a.Code, a.Raw)
		assert.Equal(t, 429, a.HTTP)
		assert.Contains(t, a.Message, "from your address")
		assert.Equal(t, 200, send(sendReset, "192.0.2.8", "a3").Code, "another address")
	}, func(o *users.Options) { o.EmailLimitPerAddr = rpc.RateLimit{Burst: 2, PerSecond: 0.001} })
}

// Of many concurrent uses of one token, exactly one succeeds.
func TestTokenSingleUseUnderConcurrency(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		e.ok(t, "", sendReset, "carol")
		reset := linkToken(t, srv.Wait(t, 1, 5*time.Second), "/reset-password")
		e.ok(t, "", sendConfirm, "carol")
		confirm := linkToken(t, srv.Wait(t, 2, 5*time.Second), "/confirm-email")

		const n = 12
		codes := parallelCalls(t, e, n, func(i int) (string, []any) {
			return setPassword, []any{reset, "new-password-" + string(rune('a'+i))}
		})
		assert.Equal(t, 1, countOf(codes, 200), "%v", codes)
		assert.Equal(t, n-1, countOf(codes, 400), "%v", codes)
		var winner int
		for i, c := range codes {
			if c == 200 {
				winner = i
			}
		}
		e.signin(t, "carol", "new-password-"+string(rune('a'+winner)))

		codes = parallelCalls(t, e, n, func(int) (string, []any) { return confirmEmail, []any{confirm} })
		assert.Equal(t, 1, countOf(codes, 200), "%v", codes)
		assert.Equal(t, n-1, countOf(codes, 400), "%v", codes)
	})
}

// parallelCalls makes n calls at once (from other goroutines, so without
// require) and returns their codes.
func parallelCalls(t *testing.T, e *env, n int, call func(i int) (string, []any)) []int {
	t.Helper()
	codes := make([]int, n)
	start := make(chan struct{})
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			method, params := call(i)
			body, _ := json.Marshal(params)
			<-start
			codes[i] = rawCall(e, method, string(body))
		}()
	}
	close(start)
	for range n {
		<-done
	}
	return codes
}

func countOf(codes []int, code int) int {
	n := 0
	for _, c := range codes {
		if c == code {
			n++
		}
	}
	return n
}

// Tokens of the other kind, of sessions, and hostile strings are refused
// with one message, use nothing up and change nothing.
func TestWrongAndHostileTokens(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		e.ok(t, "", sendReset, "carol")
		reset := linkToken(t, srv.Wait(t, 1, 5*time.Second), "/reset-password")
		e.ok(t, "", sendConfirm, "carol")
		confirm := linkToken(t, srv.Wait(t, 2, 5*time.Second), "/confirm-email")
		session := e.signin(t, "carol", "carol-password")
		before := e.snapshot(t) + tokensDump(t, e)

		// The reset token's body under the other prefix: the digest covers
		// the prefix, so this is an unknown token.
		swapped := "cnf_" + reset[4:]
		last := reset[len(reset)-1:]
		for _, tok := range []string{
			reset, swapped, session, "", " ", "rst_", "cnf_", "rst_" + strings.Repeat("A", 43), "ses_" + strings.Repeat("A", 43),
			strings.ToUpper(reset), reset + " ", " " + reset, reset + "\n", reset[:len(reset)-1], reset + "A",
			strings.TrimSuffix(reset, last) + "B", // unused low bits set
			"rst_" + strings.Repeat("A", 42) + "\u0000", "'; DELETE FROM user_tokens; --", strings.Repeat("r", 100000),
			"rst_" + strings.Repeat("é", 43), "%00", "rst_../../etc/passwd",
		} {
			a := e.refused(t, 400, "", confirmEmail, tok)
			assert.Equal(t, badToken, a.Message)
			if tok == reset {
				continue // checked below, with the password
			}
			a = e.refused(t, 400, "", setPassword, tok, "a-good-password")
			assert.Equal(t, badToken, a.Message, "%.40q", tok)
		}
		a := e.refused(t, 400, "", setPassword, confirm, "a-good-password")
		assert.Equal(t, badToken, a.Message)
		for _, body := range []string{`[1]`, `[null]`, `[["x"]]`, `[{"token":"x"}]`, `[]`, `["` + reset + `"]`, `["` + reset + `", 5]`, `["` + reset + `", "p", "x"]`} {
			a := e.c.Post(t, setPassword, body)
			assert.Equal(t, rpc.CodeInvalidParams, a.Code, a.Raw)
		}
		assert.Equal(t, before, e.snapshot(t)+tokensDump(t, e), "nothing changed, nothing used up")

		// Both still work, each for its own method.
		e.ok(t, "", confirmEmail, confirm)
		e.ok(t, "", setPassword, reset, "carol-new-password")
	})
}

func tokensDump(t *testing.T, e *env) string {
	t.Helper()
	var rows []map[string]any
	require.NoError(t, e.db.NewSelect().Table("user_tokens").Order("id").Scan(context.Background(), &rows))
	return jsonText(t, rows)
}

// Links are voided when the user is disabled, gets a password from an
// administrator, or is deleted.
func TestLinksVoidedByAdministration(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		n := 0
		resetLink := func() string {
			e.ok(t, "", sendReset, "carol")
			n++
			return linkToken(t, srv.Wait(t, n, 5*time.Second), "/reset-password")
		}

		tok := resetLink()
		e.ok(t, root, "/v1/admin/users/set-password", "carol", "carol-admin-password")
		e.refused(t, 400, "", setPassword, tok, "carol-new-password")

		tok = resetLink()
		e.ok(t, "", sendConfirm, "carol")
		n++
		srv.Wait(t, n, 5*time.Second)
		e.ok(t, root, "/v1/admin/users/set-enabled", "carol", false)
		e.ok(t, root, "/v1/admin/users/set-enabled", "carol", true)
		e.refused(t, 400, "", setPassword, tok, "carol-new-password")
		assert.Zero(t, e.count(t, "user_tokens"), "disabling voids both kinds")

		resetLink()
		e.ok(t, root, "/v1/admin/users/delete", "carol")
		assert.Zero(t, e.count(t, "user_tokens"))
		e.signin(t, "root", rootPassword)
	})
}

// A user who signed up without a password sets the first one by mail.
func TestFirstPasswordByMail(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		e.ok(t, "", "/v1/session/signup", map[string]any{"username": "fay", "email": "fay@example.com"})
		e.ok(t, "", sendReset, "fay@example.com")
		tok := linkToken(t, srv.Wait(t, 1, 5*time.Second), "/reset-password")
		e.ok(t, "", setPassword, tok, "fay-first-password")
		s := e.signin(t, "fay", "fay-first-password")
		assert.True(t, e.profile(t, s).EmailConfirmed)
	}, openSignup)
}

// Link paths are options; a path may carry a query of its own.
func TestLinkPathOptions(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		e.ok(t, "", sendReset, "carol")
		tok := linkTokenAt(t, srv.Wait(t, 1, 5*time.Second), testAppURL+"/app/?page=reset&token=")
		e.ok(t, "", sendConfirm, "carol")
		linkTokenAt(t, srv.Wait(t, 2, 5*time.Second), testAppURL+"/#/confirm?token=")
		e.ok(t, "", setPassword, tok, "carol-new-password")
	}, func(o *users.Options) {
		o.ResetPasswordPath = "/app/?page=reset"
		o.ConfirmEmailPath = "/#/confirm"
		// A trailing slash on the app URL does not double.
		o.AppURL = func(context.Context) (string, error) { return testAppURL + "/", nil }
	})
}

func TestBadLinkPathOption(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"reset", "/a b", "/a\nb", "https://elsewhere.example/reset"} {
		_, _, err := mount(t, storagetest.SQLite(t), users.Options{RootPassword: rootPassword, Hasher: fastHasher(), ResetPasswordPath: p})
		assert.Error(t, err, p)
	}
}

// rawCall calls a method as a guest and returns the answer's code; unlike
// env.do it may run outside the test's goroutine.
func rawCall(e *env, method, body string) int {
	hr := httptest.NewRequest(http.MethodPost, method, strings.NewReader(body))
	hr.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.reg.ServeHTTP(rec, hr)
	a, err := rpctest.ReadAnswer(rec.Result())
	if err != nil {
		return -1
	}
	return a.Code
}
