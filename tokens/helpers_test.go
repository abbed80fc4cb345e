package tokens_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/logbuf"
	"github.com/authrpc/authrpc/pubsub"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/tokens"
	"github.com/authrpc/authrpc/users"
)

const rootPassword = "root-password-1"

// fastParams keep sign-ins quick; the users module measures the real ones.
var fastParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// env is a registry with the users and tokens modules mounted on a test
// database, plus a method only root may call.
type env struct {
	db    *bun.DB
	reg   *rpc.Registry
	c     *rpctest.Client // a guest calling reg
	users *users.Module
	mod   *tokens.Module
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

func newEnv(t *testing.T, db *bun.DB, opts tokens.Options) *env {
	t.Helper()
	return newEnvWith(t, db, envConfig{tokens: opts})
}

// envConfig is what a test may change in an env.
type envConfig struct {
	tokens tokens.Options
	users  func(*users.Options) // nil: the defaults below
	share  pubsub.Channel       // nil: the cache is not shared
}

func newEnvWith(t *testing.T, db *bun.DB, cfg envConfig) *env {
	t.Helper()
	e := &env{db: db, logs: new(logbuf.Buffer)}
	e.reg = rpc.New(rpc.Options{
		Permissions: declared(),
		Logger:      slog.New(slog.NewTextHandler(e.logs, nil)),
	})
	if cfg.share != nil {
		e.reg.Auth().Share(cfg.share)
	}
	e.c = rpctest.New(e.reg)
	ctx := context.Background()
	uopts := users.Options{
		RootPassword: rootPassword,
		Out:          &bytes.Buffer{},
		Hasher:       auth.NewHasher(auth.HasherOptions{Params: fastParams}),
	}
	if cfg.users != nil {
		cfg.users(&uopts)
	}
	var err error
	e.users, err = users.Mount(ctx, e.reg, db, uopts)
	require.NoError(t, err)
	e.mod, err = tokens.Mount(ctx, e.reg, db, e.users, cfg.tokens)
	require.NoError(t, err)
	e.reg.Register(rpc.Method{
		ID: "/v1/test/root-only", Title: "Root only", Permissions: []string{auth.Root},
		Handler: func(ctx context.Context) error { return nil },
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.users.Close(ctx))
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

// run runs fn on SQLite and PostgreSQL with a fresh env each.
func run(t *testing.T, fn func(t *testing.T, e *env)) {
	runWith(t, tokens.Options{}, fn)
}

func runWith(t *testing.T, opts tokens.Options, fn func(t *testing.T, e *env)) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		fn(t, newEnv(t, db, opts))
	})
}

// do POSTs a raw JSON body to a method as the bearer of token ("" for a
// guest), with extra headers given as name, value pairs.
func (e *env) do(t *testing.T, token, method, body string, hdr ...string) *rpctest.Answer {
	t.Helper()
	c := e.c.As(token)
	for i := 0; i+1 < len(hdr); i += 2 {
		c = c.With(hdr[i], hdr[i+1])
	}
	return notInternal(t, c.Post(t, method, body))
}

// call calls method with params marshalled as the positional array.
func (e *env) call(t *testing.T, token, method string, params ...any) *rpctest.Answer {
	t.Helper()
	return notInternal(t, e.c.As(token).Call(t, method, params...))
}

// notInternal requires that a is not an internal error: no call in these
// tests may end in one.
func notInternal(t *testing.T, a *rpctest.Answer) *rpctest.Answer {
	t.Helper()
	require.False(t, a.Exception, "no call may end in an internal error: %s", a.Raw)
	return a
}

// ok calls and requires status 200 (not 204).
func (e *env) ok(t *testing.T, token, method string, params ...any) *rpctest.Answer {
	t.Helper()
	a := e.call(t, token, method, params...)
	require.Equal(t, 200, a.HTTP, "%s: %s", method, a.Raw)
	require.Equal(t, 200, a.Code, "%s: %s", method, a.Raw)
	return a
}

// unchanged calls and requires status 204.
func (e *env) unchanged(t *testing.T, token, method string, params ...any) {
	t.Helper()
	a := e.call(t, token, method, params...)
	require.Equal(t, 200, a.HTTP, "%s: %s", method, a.Raw)
	require.Equal(t, 204, a.Code, "%s: %s", method, a.Raw)
}

// refused calls and requires the answer code (rpctest checks that the HTTP
// status goes with it).
func (e *env) refused(t *testing.T, code int, token, method string, params ...any) *rpctest.Answer {
	t.Helper()
	a := e.call(t, token, method, params...)
	require.Equal(t, code, a.Code, "%s: %s", method, a.Raw)
	return a
}

// signin signs in with a password and returns the session token.
func (e *env) signin(t *testing.T, name, password string) string {
	t.Helper()
	a := e.ok(t, "", "/v1/session/signin", map[string]string{"username": name, "password": password})
	var s struct{ Token string }
	a.Decode(t, &s)
	require.True(t, strings.HasPrefix(s.Token, "ses_"), a.Raw)
	return s.Token
}

// whoami describes the bearer of token as signin does without credentials.
type whoami struct {
	Auth struct {
		UserID      string          `json:"user_id"`
		Username    string          `json:"username"`
		Permissions map[string]bool `json:"permissions"`
	} `json:"auth"`
}

func (e *env) whoami(t *testing.T, token string) whoami {
	t.Helper()
	var w whoami
	e.ok(t, token, "/v1/session/signin").Decode(t, &w)
	return w
}

// createUser makes a user as root and returns its id.
func (e *env) createUser(t *testing.T, rootTok, name, password string, perms map[string]bool) string {
	t.Helper()
	fields := map[string]any{"username": name, "password": password}
	if perms != nil {
		fields["permissions"] = perms
	}
	var u struct{ ID string }
	e.ok(t, rootTok, "/v1/admin/users/create", fields).Decode(t, &u)
	return u.ID
}

// tokenRec is a token as the API answers it.
type tokenRec struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Token       string          `json:"token"`
	Enabled     bool            `json:"enabled"`
	Permissions map[string]bool `json:"permissions"`
	Created     time.Time       `json:"created"`
}

// newToken creates a token named name as the bearer of session.
func (e *env) newToken(t *testing.T, session, name string) tokenRec {
	t.Helper()
	var tok tokenRec
	e.ok(t, session, "/v1/api-tokens/create", name).Decode(t, &tok)
	require.True(t, strings.HasPrefix(tok.Token, "tok_"), tok.Token)
	return tok
}

// cast is root plus two users: ann, an admin, and bob, who holds only the
// default permission (reports); all signed in.
type cast struct {
	root, ann, bob string // session tokens
	annID, bobID   string
}

func newCast(t *testing.T, e *env) cast {
	t.Helper()
	var c cast
	c.root = e.signin(t, "root", rootPassword)
	c.annID = e.createUser(t, c.root, "ann", "ann-password", map[string]bool{"admin": true})
	c.bobID = e.createUser(t, c.root, "bob", "bob-password", nil)
	c.ann = e.signin(t, "ann", "ann-password")
	c.bob = e.signin(t, "bob", "bob-password")
	return c
}

// snapshot dumps the api_tokens table, so that a test can check that a
// refused call stored nothing.
func (e *env) snapshot(t *testing.T) string {
	t.Helper()
	var rows []map[string]any
	require.NoError(t, e.db.NewSelect().Table("api_tokens").Order("id").Scan(context.Background(), &rows))
	return fmt.Sprintf("%v", rows)
}

func (e *env) countTokens(t *testing.T, userID string) int {
	t.Helper()
	n, err := e.db.NewSelect().Table("api_tokens").Where("user_id = ?", userID).Count(context.Background())
	require.NoError(t, err)
	return int(n)
}
