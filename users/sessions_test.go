package users_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

const (
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
	uaWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)

// sessionRec is a row of get-sessions.
type sessionRec struct {
	ID            string    `json:"id"`
	Current       bool      `json:"current"`
	Created       time.Time `json:"created"`
	LastActivity  time.Time `json:"last_activity"`
	Expires       time.Time `json:"expires"`
	RemoteAddress *string   `json:"remote_address"`
	UserAgent     *string   `json:"user_agent"`
	Device        *string   `json:"device"`
	Browser       *string   `json:"browser"`
	OS            *string   `json:"os"`
}

// signinFrom signs in with a user agent from an address.
func (e *env) signinFrom(t *testing.T, name, password, ua, addr string) string {
	t.Helper()
	a := e.c.With("User-Agent", ua).From(addr).Call(t, "/v1/session/signin", map[string]string{"username": name, "password": password})
	require.Equal(t, 200, a.Code, a.Raw)
	var s signin
	a.Decode(t, &s)
	return s.Token
}

func (e *env) sessions(t *testing.T, token, method string, params ...any) []sessionRec {
	t.Helper()
	var rows []sessionRec
	e.ok(t, token, method, params...).Decode(t, &rows)
	return rows
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestSessionList(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		root := e.root(t)
		e.create(t, root, "bob", "bob-password", nil)
		phone := e.signinFrom(t, "bob", "bob-password", uaIPhone, "198.51.100.7")
		e.clock.Add(time.Second)
		pc := e.signinFrom(t, "bob", "bob-password", uaWindows, "2001:db8::1")

		rows := e.sessions(t, phone, "/v1/profile/get-sessions")
		require.Len(t, rows, 2)
		// The most recently active first: both were active at sign-in.
		assert.Equal(t, "Windows 10.0", str(rows[0].OS))
		assert.Equal(t, "Chrome 120", str(rows[0].Browser))
		assert.Equal(t, "Desktop", str(rows[0].Device))
		assert.Equal(t, "2001:db8::1", str(rows[0].RemoteAddress))
		assert.Equal(t, uaWindows, str(rows[0].UserAgent))
		assert.False(t, rows[0].Current)
		assert.Equal(t, "iPhone", str(rows[1].Device))
		assert.Equal(t, "Safari 17", str(rows[1].Browser))
		assert.Equal(t, "iOS 17.1", str(rows[1].OS))
		assert.Equal(t, "198.51.100.7", str(rows[1].RemoteAddress))
		assert.True(t, rows[1].Current, "the phone asked")
		assert.Equal(t, rows[1].Created, rows[1].LastActivity)
		assert.Equal(t, rows[1].Created.Add(users.DefaultSessionTTL), rows[1].Expires)
		for _, r := range rows {
			assert.NotContains(t, r.ID, "ses_")
		}

		// The same rows for an administrator, with none current.
		adminRows := e.sessions(t, root, "/v1/admin/users/get-sessions", "bob")
		require.Len(t, adminRows, 2)
		for i := range adminRows {
			assert.False(t, adminRows[i].Current)
			adminRows[i].Current = rows[i].Current
		}
		assert.Equal(t, rows, adminRows)

		// A session without a user agent lists nulls.
		bare := e.signin(t, "bob", "bob-password")
		rows = e.sessions(t, bare, "/v1/profile/get-sessions")
		require.Len(t, rows, 3)
		assert.Nil(t, rows[0].Device)
		assert.Nil(t, rows[0].UserAgent)
		assert.True(t, rows[0].Current)
		_ = pc
	})
}

func TestSignOutSession(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		other := e.signinFrom(t, "bob", "bob-password", uaIPhone, "198.51.100.7")
		e.ok(t, other, "/v1/profile/read") // cached
		rows := e.sessions(t, s.userTok, "/v1/profile/get-sessions")
		require.Len(t, rows, 2)
		otherID := rows[0].ID
		require.False(t, rows[0].Current)

		// Another user's session, or one that does not exist: 404, nothing ended.
		annRows := e.sessions(t, s.adminTok, "/v1/profile/get-sessions")
		a := e.refused(t, 404, s.userTok, "/v1/profile/sign-out-session", annRows[0].ID)
		assert.Equal(t, `session "`+annRows[0].ID+`" not found`, a.Message)
		e.refused(t, 404, s.userTok, "/v1/profile/sign-out-session", "999999")
		e.ok(t, s.adminTok, "/v1/profile/read")

		e.ok(t, s.userTok, "/v1/profile/sign-out-session", otherID)
		e.refused(t, rpc.CodeInsufficientPermissions, other, "/v1/profile/read")
		e.ok(t, s.userTok, "/v1/profile/read")
		e.refused(t, 404, s.userTok, "/v1/profile/sign-out-session", otherID)

		// The current session too, as signout.
		cur := e.sessions(t, s.userTok, "/v1/profile/get-sessions")
		require.Len(t, cur, 1)
		e.ok(t, s.userTok, "/v1/profile/sign-out-session", cur[0].ID)
		e.refused(t, rpc.CodeInsufficientPermissions, s.userTok, "/v1/profile/read")
	})
}

func TestAdminSessions(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		second := e.signin(t, "bob", "bob-password")
		rows := e.sessions(t, s.adminTok, "/v1/admin/users/get-sessions", s.user.ID)
		require.Len(t, rows, 2)

		e.refused(t, 404, s.adminTok, "/v1/admin/users/get-sessions", "nobody")
		e.refused(t, 404, s.adminTok, "/v1/admin/users/sign-out-session", "ann", rows[0].ID)
		e.refused(t, rpc.CodeInsufficientPermissions, s.userTok, "/v1/admin/users/get-sessions", "bob")

		e.ok(t, s.adminTok, "/v1/admin/users/sign-out-session", "bob", rows[0].ID)
		e.refused(t, rpc.CodeInsufficientPermissions, second, "/v1/profile/read")
		e.ok(t, s.userTok, "/v1/profile/read")

		// All of them, without a fresh authorization: an administrator's reset.
		a := e.ok(t, s.adminTok, "/v1/admin/users/sign-out-all-sessions", "bob")
		assert.Equal(t, 200, a.Code)
		e.refused(t, rpc.CodeInsufficientPermissions, s.userTok, "/v1/profile/read")
		assert.Equal(t, 204, e.ok(t, s.adminTok, "/v1/admin/users/sign-out-all-sessions", "bob").Code)

		// Root's sessions are root's to end.
		rootRows := e.sessions(t, s.adminTok, "/v1/admin/users/get-sessions", "root")
		require.NotEmpty(t, rootRows)
		e.refused(t, 403, s.adminTok, "/v1/admin/users/sign-out-session", "root", rootRows[0].ID)
		e.refused(t, 403, s.adminTok, "/v1/admin/users/sign-out-all-sessions", "root")
		e.ok(t, s.rootTok, "/v1/profile/read")
	})
}

func TestSessionMethodsBadInput(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		before := e.snapshot(t)
		for _, c := range []struct {
			token, method string
			body          string
		}{
			{s.userTok, "/v1/profile/sign-out-session", `[]`},
			{s.userTok, "/v1/profile/sign-out-session", `[12]`},
			{s.userTok, "/v1/profile/sign-out-session", `["12", 1]`},
			{s.userTok, "/v1/profile/get-sessions", `[1]`},
			{s.adminTok, "/v1/admin/users/get-sessions", `[]`},
			{s.adminTok, "/v1/admin/users/sign-out-session", `["bob"]`},
			{s.adminTok, "/v1/admin/users/sign-out-all-sessions", `[{}]`},
			{s.userTok, "/v1/session/authorize", `[]`},
			{s.userTok, "/v1/session/authorize", `[{}]`},
			{s.userTok, "/v1/session/authorize", `["bob-password"]`},
			{s.userTok, "/v1/session/authorize", `[{"password": 1}]`},
		} {
			a := e.c.As(c.token).Post(t, c.method, c.body)
			assert.Equal(t, rpc.CodeInvalidParams, a.Code, "%s %s: %s", c.method, c.body, a.Raw)
		}
		for _, c := range []struct {
			token, method string
			body, msg     string
		}{
			{s.userTok, "/v1/profile/sign-out-session", `["ses_abc"]`, `session_id "ses_abc" is not a session id`},
			{s.userTok, "/v1/profile/sign-out-session", `["0"]`, `session_id "0" is not a session id`},
			{s.userTok, "/v1/profile/sign-out-session", `["99999999999999999999"]`, `is not a session id`},
			{s.adminTok, "/v1/admin/users/sign-out-session", `["bob", "-1"]`, `is not a session id`},
			{s.userTok, "/v1/session/authorize", `[{"sms_code": "123456"}]`, `credentials: unknown field "sms_code" (accepted: passkey, password, recovery_code, totp_code)`},
			{s.userTok, "/v1/session/authorize", `[{"totp_code": "123456"}]`, `credentials: totp_code: no totp is enrolled for this user`},
			{s.userTok, "/v1/session/authorize", `[{"password": "x", "nonce": "y"}]`, `credentials: unknown field "nonce"`},
		} {
			a := e.c.As(c.token).Post(t, c.method, c.body)
			assert.Equal(t, 400, a.Code, "%s %s: %s", c.method, c.body, a.Raw)
			assert.Contains(t, a.Message, c.msg)
		}
		assert.Equal(t, before, e.snapshot(t), "nothing stored")
	})
}

// clockedEnv is an env whose registry reads the test's clock too, for the
// step-up's max age.
func clockedEnv(t *testing.T, db *bun.DB, tweak ...func(*users.Options)) *env {
	c := &clock{now: time.Now().UTC()}
	e := newEnvRPC(t, db, func(o *rpc.Options) {
		o.Clock = regClock{c}
		o.Auth = auth.NewMux(auth.MuxOptions{Now: c.Now})
	}, append([]func(*users.Options){func(o *users.Options) { o.Now = c.Now }}, tweak...)...)
	e.clock = c
	return e
}

// regClock is the test's clock as the registry's: its timers are real.
type regClock struct{ c *clock }

func (r regClock) Now() time.Time { return r.c.Now() }

func (regClock) AfterFunc(d time.Duration, f func()) rpc.Timer { return time.AfterFunc(d, f) }

func TestStepUp(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := clockedEnv(t, db)
		root := e.root(t)
		e.create(t, root, "bob", "bob-password", nil)
		bob := e.signin(t, "bob", "bob-password")
		other := e.signin(t, "bob", "bob-password")

		a := e.refused(t, 403, bob, "/v1/profile/sign-out-all-sessions")
		assert.Equal(t, true, a.Meta["authorization_required"], a.Raw)
		e.ok(t, other, "/v1/profile/read")

		a = e.refused(t, 401, bob, "/v1/session/authorize", map[string]string{"password": "wrong-password"})
		assert.Equal(t, "Bad credentials", a.Message)
		e.refused(t, 403, bob, "/v1/profile/sign-out-all-sessions")

		e.ok(t, bob, "/v1/session/authorize", map[string]string{"password": "bob-password"})
		e.refused(t, 403, other, "/v1/profile/sign-out-all-sessions") // only the session that authorized

		e.clock.Add(rpc.DefaultAuthorizedMaxAge + time.Second)
		a = e.refused(t, 403, bob, "/v1/profile/sign-out-all-sessions")
		assert.Equal(t, true, a.Meta["authorization_required"], a.Raw)

		e.ok(t, bob, "/v1/session/authorize", map[string]string{"password": "bob-password"})
		e.clock.Add(rpc.DefaultAuthorizedMaxAge - time.Second)
		e.ok(t, bob, "/v1/profile/sign-out-all-sessions")
		e.refused(t, rpc.CodeInsufficientPermissions, other, "/v1/profile/read")
		e.ok(t, bob, "/v1/profile/read")
		assert.Equal(t, 204, e.ok(t, bob, "/v1/profile/sign-out-all-sessions").Code, "no other session")

		// A guest cannot authorize.
		e.refused(t, rpc.CodeInsufficientPermissions, "", "/v1/session/authorize", map[string]string{"password": "bob-password"})
	})
}

// A host requires a recent authorization of any method, its own or a
// module's, without forking it.
func TestStepUpRequiredByHost(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := clockedEnv(t, db)
		require.NoError(t, e.reg.RequireAuthorization("/v1/profile/set-email"))
		root := e.root(t)
		e.create(t, root, "bob", "bob-password", nil)
		bob := e.signin(t, "bob", "bob-password")
		a := e.refused(t, 403, bob, "/v1/profile/set-email", "bob@example.com")
		assert.Equal(t, true, a.Meta["authorization_required"])
		e.ok(t, bob, "/v1/session/authorize", map[string]string{"password": "bob-password"})
		e.ok(t, bob, "/v1/profile/set-email", "bob@example.com")
	})
}

// An API token never authorizes, and the step-up is limited as sign-in is.
func TestStepUpRefusals(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := clockedEnv(t, db, func(o *users.Options) {
			o.SigninLimitPerNameAddr = rpc.RateLimit{Burst: 3, PerSecond: 1.0 / 60}
		})
		root := e.root(t)
		e.create(t, root, "bob", "bob-password", nil)
		bob := e.signin(t, "bob", "bob-password")

		// An API token, minted by the module's Go surface as the tokens
		// module does: a principal of kind tok.
		tokCaller := &auth.Principal{UserID: 100, Username: "bob", Kind: auth.KindAPIToken, TokenID: 5}
		err := e.mod.As(tokCaller).Authorize(context.Background(), users.PasswordCredentials("bob-password"), "192.0.2.1")
		require.ErrorIs(t, err, users.ErrForbidden)
		assert.Contains(t, err.Error(), "an API token cannot authorize")

		for range 3 {
			e.refused(t, 401, bob, "/v1/session/authorize", map[string]string{"password": "wrong-password"})
		}
		a := e.refused(t, 429, bob, "/v1/session/authorize", map[string]string{"password": "bob-password"})
		assert.NotEmpty(t, a.Header.Get("Retry-After"))
		// The budget is sign-in's: signing in from that address waits too.
		e.refused(t, 429, "", "/v1/session/signin", map[string]string{"username": "bob", "password": "bob-password"})
		e.clock.Add(time.Minute)
		e.ok(t, bob, "/v1/session/authorize", map[string]string{"password": "bob-password"})
	})
}

// A Verifier adds a kind of credentials without a change to the module.
func TestStepUpVerifier(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := clockedEnv(t, db)
		e.mod.AddVerifier(users.Verifier{Field: "pin", Fields: []string{"pin_hint"}, Verify: func(ctx context.Context, u *users.User, c users.Credentials) error {
			pin, _, err := c.String("pin")
			if err != nil {
				return err
			}
			if pin != "4242" || u.Name != "bob" {
				return &users.Error{Reason: users.ErrUnauthenticated, Message: "wrong pin"}
			}
			return nil
		}})
		assert.Panics(t, func() {
			e.mod.AddVerifier(users.Verifier{Field: "pin_hint", Verify: func(context.Context, *users.User, users.Credentials) error { return nil }})
		})
		root := e.root(t)
		e.create(t, root, "bob", "bob-password", nil)
		bob := e.signin(t, "bob", "bob-password")
		a := e.refused(t, 401, bob, "/v1/session/authorize", map[string]any{"pin": "1111"})
		assert.Equal(t, "wrong pin", a.Message)
		a = e.refused(t, 400, bob, "/v1/session/authorize", map[string]any{"pin": "4242", "password": "bob-password"})
		assert.Contains(t, a.Message, "not several")
		a = e.refused(t, 400, bob, "/v1/session/authorize", map[string]any{"pin_hint": "x"})
		assert.Contains(t, a.Message, "send one of passkey, password, pin")
		e.ok(t, bob, "/v1/session/authorize", map[string]any{"pin": "4242", "pin_hint": "x"})
		e.ok(t, bob, "/v1/profile/sign-out-all-sessions")
	})
}

// A session's last activity is written at most once a minute under a loop
// of calls, never by the call itself, and not again by another instance
// within the minute.
func TestLastActivity(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := clockedEnv(t, db)
		root := e.root(t)
		e.create(t, root, "bob", "bob-password", nil)
		bob := e.signin(t, "bob", "bob-password")
		signedIn := e.clock.Now().UTC().Truncate(time.Microsecond)
		stored := func() time.Time {
			var at time.Time
			require.NoError(t, db.NewSelect().Table("user_sessions").Column("last_activity").
				Where("user_id = (SELECT id FROM users WHERE name = 'bob')").Scan(context.Background(), &at))
			return at.UTC()
		}
		require.Equal(t, signedIn, stored())

		queued := e.mod.ActivityQueued()
		writes := 0
		lastWrite := signedIn
		for i := range 25 {
			e.clock.Add(10 * time.Second)
			written := e.mod.ActivityWritten()
			e.ok(t, bob, "/v1/profile/read")
			now := e.clock.Now().UTC().Truncate(time.Microsecond)
			if now.Sub(lastWrite) >= time.Minute {
				<-written
				writes++
				lastWrite = now
			}
			require.Equal(t, queued+int64(writes), e.mod.ActivityQueued(), "call %d", i)
			require.Equal(t, lastWrite, stored(), "call %d", i)
		}
		assert.Equal(t, 4, writes, "250 s of calls every 10 s")

		// Another instance on the database sees the session for the first
		// time: it asks, but the row, written within the minute, is not
		// written again.
		e.clock.Add(10 * time.Second)
		e2 := newEnvRPC(t, db, func(o *rpc.Options) {
			o.Clock = regClock{e.clock}
			o.Auth = auth.NewMux(auth.MuxOptions{Now: e.clock.Now})
		}, func(o *users.Options) { o.Now = e.clock.Now })
		written := e2.mod.ActivityWritten()
		e2.ok(t, bob, "/v1/profile/read")
		<-written
		assert.Equal(t, int64(1), e2.mod.ActivityQueued())
		assert.Equal(t, lastWrite, stored(), "written by the first instance 10 s ago")
	})
}
