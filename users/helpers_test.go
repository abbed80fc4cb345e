package users_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/logbuf"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

const rootPassword = "root-password-1"

// fastParams keep the tests quick; the default (OWASP) hasher is measured on
// its own in bars_test.go.
var fastParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func fastHasher() *auth.Hasher {
	return auth.NewHasher(auth.HasherOptions{Params: fastParams})
}

// clock is a settable time for sessions, limiters and the auth cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is a registry with the users module mounted on a test database.
type env struct {
	t     *testing.T
	db    *bun.DB
	reg   *rpc.Registry
	c     *rpctest.Client // a guest calling reg
	mod   *users.Module
	clock *clock
	out   *logbuf.Buffer // where a generated root password goes
	logs  *logbuf.Buffer
}

// declared are the permissions the tests' host declares.
func declared() *auth.Permissions {
	return auth.NewPermissions(
		auth.Permission{Name: "admin", Title: "Administrator", Description: "Manages users."},
		auth.Permission{Name: "billing", Title: "Billing", Description: "Sees invoices."},
		auth.Permission{Name: "reports", Title: "Reports", Description: "Reads reports.", Default: true},
	)
}

func newEnv(t *testing.T, db *bun.DB, tweak ...func(*users.Options)) *env {
	t.Helper()
	return newEnvRPC(t, db, nil, tweak...)
}

// newEnvRPC is newEnv with a say in the registry's options.
func newEnvRPC(t *testing.T, db *bun.DB, rpcTweak func(*rpc.Options), tweak ...func(*users.Options)) *env {
	t.Helper()
	e := &env{t: t, db: db, clock: &clock{now: time.Now().UTC()}, out: new(logbuf.Buffer), logs: new(logbuf.Buffer)}
	ro := rpc.Options{
		Permissions: declared(),
		Auth:        auth.NewMux(auth.MuxOptions{Now: e.clock.Now}),
		Logger:      slog.New(slog.NewTextHandler(e.logs, nil)),
	}
	if rpcTweak != nil {
		rpcTweak(&ro)
	}
	e.reg = rpc.New(ro)
	e.c = rpctest.New(e.reg)
	opts := users.Options{
		RootPassword: rootPassword,
		Out:          e.out,
		Hasher:       fastHasher(),
		Now:          e.clock.Now,
	}
	for _, f := range tweak {
		f(&opts)
	}
	var err error
	e.mod, err = users.Mount(context.Background(), e.reg, db, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.mod.Close(ctx))
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

// openSignup opens /v1/session/signup, which is closed by default.
func openSignup(o *users.Options) { o.SignupEnabled = users.SignupOpen }

// run runs fn on SQLite and PostgreSQL with a fresh env each, one after
// the other. The tests themselves run in parallel (t.Parallel), each on
// databases of its own; their subtests do not, so that a test holds at most
// one database at a time rather than every paused one holding its own.
func run(t *testing.T, fn func(t *testing.T, e *env), tweak ...func(*users.Options)) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		fn(t, newEnv(t, db, tweak...))
	})
}

// call calls method as the holder of token ("" for a guest) with params
// marshalled as the positional array.
func (e *env) call(t *testing.T, token, method string, params ...any) *rpctest.Answer {
	t.Helper()
	return e.c.As(token).Call(t, method, params...)
}

// ok calls and requires a 200 (or 204) answer.
func (e *env) ok(t *testing.T, token, method string, params ...any) *rpctest.Answer {
	t.Helper()
	a := e.call(t, token, method, params...)
	require.Equal(t, 200, a.HTTP, "%s: %s", method, a.Raw)
	require.False(t, a.Err(), a.Raw)
	return a
}

// refused calls and requires the answer code (rpctest checks that the HTTP
// status goes with it).
func (e *env) refused(t *testing.T, code int, token, method string, params ...any) *rpctest.Answer {
	t.Helper()
	a := e.call(t, token, method, params...)
	require.Equal(t, code, a.Code, "%s: %s", method, a.Raw)
	return a
}

type signin struct {
	Token string `json:"token"`
	Auth  struct {
		UserID         string          `json:"user_id"`
		Username       string          `json:"username"`
		Permissions    map[string]bool `json:"permissions"`
		Email          *string         `json:"email"`
		EmailConfirmed bool            `json:"email_confirmed"`
		TelegramName   *string         `json:"telegram_name"`
		Expires        *time.Time      `json:"expires"`
	} `json:"auth"`
}

// signin signs in and returns the session token.
func (e *env) signin(t *testing.T, name, password string) string {
	t.Helper()
	a := e.ok(t, "", "/v1/session/signin", map[string]string{"username": name, "password": password})
	var s signin
	a.Decode(t, &s)
	require.True(t, strings.HasPrefix(s.Token, "ses_"), a.Raw)
	return s.Token
}

func (e *env) root(t *testing.T) string {
	t.Helper()
	return e.signin(t, "root", rootPassword)
}

// userRec is a user record as the API answers it.
type userRec struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Email          *string         `json:"email"`
	EmailConfirmed bool            `json:"email_confirmed"`
	TelegramName   *string         `json:"telegram_name"`
	Enabled        bool            `json:"enabled"`
	Permissions    map[string]bool `json:"permissions"`
	Created        time.Time       `json:"created"`
	Password       string          `json:"password"`
}

// create makes a user as root with the given password and permissions and
// returns its record.
func (e *env) create(t *testing.T, rootToken, name, password string, perms map[string]bool) userRec {
	t.Helper()
	fields := map[string]any{"username": name, "password": password}
	if perms != nil {
		fields["permissions"] = perms
	}
	a := e.ok(t, rootToken, "/v1/admin/users/create", fields)
	var u userRec
	a.Decode(t, &u)
	return u
}

// snapshot dumps both tables, so that a test can check a refused call
// stored nothing.
func (e *env) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var rows []map[string]any
	require.NoError(t, e.db.NewSelect().Table("users").Order("id").Scan(ctx, &rows))
	var sessions []map[string]any
	require.NoError(t, e.db.NewSelect().Table("user_sessions").Order("id").Scan(ctx, &sessions))
	return fmt.Sprintf("users: %v\nsessions: %v", rows, sessions)
}

func (e *env) count(t *testing.T, table string) int {
	t.Helper()
	n, err := e.db.NewSelect().Table(table).Count(context.Background())
	require.NoError(t, err)
	return int(n)
}

// deletedByCleanup checks that the n rows of table, made now and living
// ttl, stay through a cleanup round a minute before they expire and are
// gone after the round at their expiry.
func (e *env) deletedByCleanup(t *testing.T, table string, n int, ttl time.Duration) {
	t.Helper()
	ctx := context.Background()
	require.Equal(t, n, e.count(t, table))
	e.clock.Add(ttl - time.Minute)
	e.mod.Cleanup(ctx)
	require.Equal(t, n, e.count(t, table), "not expired yet")
	e.clock.Add(time.Minute)
	e.mod.Cleanup(ctx)
	require.Equal(t, 0, e.count(t, table))
}

// staffed is an env with root, an admin ("ann", admin) and a plain user
// ("bob"), all signed in.
type staffed struct {
	*env
	rootTok, adminTok, userTok string
	admin, user                userRec
}

func newStaffed(t *testing.T, e *env) *staffed {
	t.Helper()
	s := &staffed{env: e}
	s.rootTok = e.root(t)
	s.admin = e.create(t, s.rootTok, "ann", "ann-password", map[string]bool{"admin": true})
	s.user = e.create(t, s.rootTok, "bob", "bob-password", nil)
	s.adminTok = e.signin(t, "ann", "ann-password")
	s.userTok = e.signin(t, "bob", "bob-password")
	return s
}
