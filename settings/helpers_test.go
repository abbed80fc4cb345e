package settings_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/logbuf"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/settings"
)

// env is a registry with the settings module mounted on a test database,
// and two callers: one holding "admin", one holding nothing.
type env struct {
	db    *bun.DB
	reg   *rpc.Registry
	c     *rpctest.Client // a guest calling reg
	mod   *settings.Module
	admin string
	plain string
	logs  *logbuf.Buffer
}

func newEnv(t *testing.T, db *bun.DB, opts settings.Options) *env {
	t.Helper()
	return newEnvWith(t, db, func(*rpc.Registry) settings.Options { return opts })
}

// newEnvWith is newEnv with options made on the registry (modules mounted
// on it first).
func newEnvWith(t *testing.T, db *bun.DB, options func(reg *rpc.Registry) settings.Options) *env {
	t.Helper()
	e := &env{db: db, logs: new(logbuf.Buffer)}
	e.reg = rpc.New(rpc.Options{
		Logger:      slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"}),
	})
	e.c = rpctest.New(e.reg)
	tokens := map[string]*auth.Principal{}
	for _, c := range []struct {
		token *string
		p     *auth.Principal
	}{
		{&e.admin, &auth.Principal{UserID: 7, Username: "ann", Kind: auth.KindSession, TokenID: 70, Permissions: map[string]bool{"admin": true}}},
		{&e.plain, &auth.Principal{UserID: 8, Username: "bob", Kind: auth.KindSession, TokenID: 80}},
	} {
		plain, digest, err := auth.NewToken(auth.KindSession)
		require.NoError(t, err)
		*c.token = plain
		tokens[string(digest)] = c.p
	}
	e.reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(ctx context.Context, token string) (*auth.Principal, error) {
		if p, ok := tokens[string(auth.Digest(token))]; ok {
			return p, nil
		}
		return nil, auth.ErrUnknownToken
	}))
	var err error
	e.mod, err = settings.Mount(context.Background(), e.reg, db, options(e.reg))
	require.NoError(t, err)
	return e
}

// call POSTs body to a method of /v1/admin/settings as the bearer of token.
func (e *env) call(t *testing.T, token, method, body string) *rpctest.Answer {
	t.Helper()
	return e.c.As(token).Post(t, "/v1/admin/settings/"+method, body)
}

// ok calls a method as the admin, requires a 200 and returns the data.
func (e *env) ok(t *testing.T, method, body string) string {
	t.Helper()
	a := e.call(t, e.admin, method, body)
	require.Equal(t, 200, a.HTTP, a.Raw)
	require.Equal(t, 200, a.Code, a.Raw)
	return string(a.Data)
}

// refused calls a method as the admin and requires the code.
func (e *env) refused(t *testing.T, code int, method, body string) *rpctest.Answer {
	t.Helper()
	a := e.call(t, e.admin, method, body)
	require.Equal(t, code, a.Code, "%s %s: %s", method, body, a.Raw)
	return a
}
