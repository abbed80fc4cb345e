package users_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/mailer"
	"github.com/authrpc/authrpc/mailer/mailertest"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// runNotices is run with an SMTP server per database and the security
// notices on (as SecurityMail says, when it is given).
func runNotices(t *testing.T, fn func(t *testing.T, e *env, srv *mailertest.Server), tweak ...func(*users.Options)) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		srv := mailertest.NewServer(t, mailertest.Options{Username: smtpUser, Password: smtpPassword})
		fn(t, newEnv(t, db, append([]func(*users.Options){withMail(srv)}, tweak...)...), srv)
	})
}

// mailWait bounds the wait for a mail the test caused.
const mailWait = 30 * time.Second

func subjects(msgs []mailertest.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.To[0] + ": " + m.Subject
	}
	return out
}

// A sign-in from a device and network the user has not signed in from
// lately is mailed to the user; a known one is not, nor the first.
func TestNewDeviceNotice(t *testing.T) {
	t.Parallel()
	runNotices(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		e.signinFrom(t, "carol", "carol-password", uaIPhone, "198.51.100.7") // the first: no news
		e.signinFrom(t, "carol", "carol-password", uaIPhone, "198.51.100.7") // known
		e.signinFrom(t, "carol", "carol-password", uaWindows, "2001:db8::1")
		msg := srv.Wait(t, 1, mailWait)
		assert.Equal(t, []string{"carol@example.com"}, msg.To)
		assert.Equal(t, "New sign-in to your account", msg.Subject)
		for _, want := range []string{"Hello carol", "Desktop", "Chrome 120", "Windows 10.0", "2001:db8::1", testAppURL + users.DefaultSessionListPath} {
			assert.Contains(t, msg.Text, want)
		}
		e.signinFrom(t, "carol", "carol-password", uaWindows, "2001:db8::2") // the same /64
		e.signinFrom(t, "carol", "carol-password", uaIPhone, "198.51.100.7") // known still
		e.signinFrom(t, "carol", "carol-password", uaIPhone, "203.0.113.9")  // a new network
		srv.Wait(t, 2, mailWait)
		e.drain(t)
		assert.Equal(t, []string{
			"carol@example.com: New sign-in to your account",
			"carol@example.com: New sign-in to your account",
		}, subjects(srv.Messages()))
		assert.Contains(t, srv.Messages()[1].Text, "203.0.113.9")
	})
}

// A changed password is mailed to the user, by whoever changed it; a
// changed email to the address the user had.
func TestChangeNotices(t *testing.T) {
	t.Parallel()
	runNotices(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		e.ok(t, root, "/v1/admin/users/set-password", "carol", "carol-password-2")
		msg := srv.Wait(t, 1, mailWait)
		assert.Equal(t, "carol@example.com: Your password was changed", subjects([]mailertest.Message{msg})[0])

		carol := e.signin(t, "carol", "carol-password-2")
		e.ok(t, carol, "/v1/profile/set-email", "carol@example.org")
		msg = srv.Wait(t, 2, mailWait)
		assert.Equal(t, []string{"carol@example.com"}, msg.To, "the old address")
		assert.Equal(t, "Your email address was changed", msg.Subject)
		assert.Contains(t, msg.Text, "changed to carol@example.org")

		e.ok(t, root, "/v1/admin/users/set-username", "carol", "caroline", "carol-password-3")
		msg = srv.Wait(t, 3, mailWait)
		assert.Equal(t, "carol@example.org: Your password was changed", subjects([]mailertest.Message{msg})[0])
		assert.Contains(t, msg.Text, "Hello caroline")

		e.ok(t, root, "/v1/admin/users/set-username", "caroline", "carol") // no password: no notice
		e.ok(t, e.signin(t, "carol", "carol-password-3"), "/v1/profile/set-telegram-username", "carol_tg")
		e.drain(t)
		assert.Len(t, srv.Messages(), 3)
	})
}

// Each notice is turned off by SecurityMail (the settings module's), and
// none is sent without an email address.
func TestNoticesOff(t *testing.T) {
	t.Parallel()
	off := map[string]bool{mailer.TemplateNewSignin: true, mailer.TemplateEmailChanged: true}
	runNotices(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		e.create(t, root, "dave", "dave-password", nil)
		for _, who := range []string{"carol", "dave"} {
			e.signinFrom(t, who, who+"-password", uaIPhone, "198.51.100.7")
			e.signinFrom(t, who, who+"-password", uaWindows, "203.0.113.9")
		}
		carol := e.signin(t, "carol", "carol-password")
		e.ok(t, carol, "/v1/profile/set-email", "carol@example.org")
		e.ok(t, root, "/v1/admin/users/set-password", "dave", "dave-password-2")
		e.ok(t, root, "/v1/admin/users/set-password", "carol", "carol-password-2")
		e.drain(t)
		assert.Equal(t, []string{"carol@example.org: Your password was changed"}, subjects(srv.Messages()))
	}, func(o *users.Options) {
		o.SecurityMail = func(_ context.Context, template string) (bool, error) { return !off[template], nil }
	})
}

func TestSessionListPathOption(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{Permissions: declared()})
	_, err := users.Mount(context.Background(), reg, storagetest.SQLite(t), users.Options{SessionListPath: "security", Hasher: fastHasher(), Out: io.Discard})
	require.ErrorContains(t, err, "SessionListPath")
}
