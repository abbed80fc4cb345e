package audit_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/audit"
	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/fakeclock"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// permission is the tag read takes in these tests: not "admin", so that
// they show Options.Permission is what counts.
const permission = "audit"

// env is a registry with a mounted trail and a host method that records
// its change. The host authenticator resolves two fixed tokens: admin
// (user 7, session 70, holds permission) and plain (user 8, API token 80,
// holds nothing).
type env struct {
	reg   *rpc.Registry
	c     *rpctest.Client // a guest
	mod   *audit.Module
	db    *bun.DB
	clock *fakeclock.Clock
	admin string
	plain string
}

func newEnv(t testing.TB, db *bun.DB, opts audit.Options) *env {
	t.Helper()
	e := &env{db: db, clock: fakeclock.New()}
	e.reg = rpc.New(rpc.Options{
		Permissions: auth.NewPermissions(auth.Permission{Name: permission, Title: "Audit"}),
	})
	e.c = rpctest.New(e.reg)
	e.admin, e.plain = addTokens(t, e.reg)
	if opts.Permission == "" {
		opts.Permission = permission
	}
	if opts.Now == nil {
		opts.Now, opts.After = e.clock.Now, e.clock.After
	}
	mod, err := audit.Mount(t.Context(), e.reg, db, opts)
	require.NoError(t, err)
	e.mod = mod
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, mod.Close(ctx))
	})
	registerHostMethod(e.reg, db, mod)
	return e
}

func addTokens(t testing.TB, reg *rpc.Registry) (admin, plain string) {
	t.Helper()
	admin, adminDigest, err := auth.NewToken(auth.KindSession)
	require.NoError(t, err)
	plain, plainDigest, err := auth.NewToken(auth.KindAPIToken)
	require.NoError(t, err)
	ann := &auth.Principal{UserID: 7, Username: "ann", Kind: auth.KindSession, TokenID: 70, Permissions: map[string]bool{permission: true}}
	bob := &auth.Principal{UserID: 8, Username: "bob", Kind: auth.KindAPIToken, TokenID: 80}
	find := func(want []byte, p *auth.Principal) auth.AuthenticatorFunc {
		return func(ctx context.Context, token string) (*auth.Principal, error) {
			if bytes.Equal(auth.Digest(token), want) {
				return p, nil
			}
			return nil, auth.ErrUnknownToken
		}
	}
	reg.Auth().Handle(auth.KindSession, find(adminDigest, ann))
	reg.Auth().Handle(auth.KindAPIToken, find(plainDigest, bob))
	return admin, plain
}

// errFailAfterRecord fails the host method after it recorded its change.
var errFailAfterRecord = errors.New("the change failed after it was recorded")

// registerHostMethod registers /v1/host/rename: a host's own method that
// records its change through the trail in its transaction. The name "fail"
// fails the transaction after the entry was written.
func registerHostMethod(reg *rpc.Registry, db *bun.DB, trail *audit.Module) {
	reg.Section("/v1/host", "Host").Register(rpc.Method{
		ID: "rename", Title: "Rename a thing", Permissions: []string{auth.User},
		Params: []rpc.Param{{Name: "thing_id"}, {Name: "name"}, {Name: "secret?"}},
		Handler: func(ctx context.Context, id, name, secret string) error {
			return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				changes := map[string]any{"name": name}
				if secret != "" {
					changes["api_secret"] = secret // masked by the safety net
				}
				if err := trail.Record(ctx, tx, audit.Entry{Action: "things.rename", Target: id, Changes: changes}); err != nil {
					return err
				}
				if name == "fail" {
					return errFailAfterRecord
				}
				return nil
			})
		},
	})
}

// read calls read as the admin with options and answers the rows and meta.total.
func (e *env) read(t testing.TB, options string) ([]audit.Record, int) {
	t.Helper()
	a := e.c.As(e.admin).Post(t, audit.Prefix+"/read", "["+options+"]")
	require.Equal(t, http.StatusOK, a.HTTP, a.Raw)
	var rows []audit.Record
	a.Decode(t, &rows)
	total, _ := a.Meta["total"].(float64)
	return rows, int(total)
}
