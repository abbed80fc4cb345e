package calllog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/internal/logbuf"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// Test method ids.
const (
	mOK      = "/v1/t/ok"
	mFail    = "/v1/t/fail"
	mBoom    = "/v1/t/boom"
	mPanic   = "/v1/t/panic"
	mAdmin   = "/v1/t/admin-only"
	mLimited = "/v1/t/limited"
	mQuiet   = "/v1/t/quiet"

	readLog     = calllog.Prefix + "/read-log"
	readLatest  = calllog.Prefix + "/read-latest-stat"
	readHistory = calllog.Prefix + "/read-history-stat"
)

// env is a registry with test methods and a mounted call log. The host
// authenticator resolves two fixed tokens: admin (user 7, holds "admin")
// and plain (user 8, holds nothing).
type env struct {
	reg   *rpc.Registry
	c     *rpctest.Client // a guest calling reg
	mod   *calllog.Module
	db    *bun.DB
	logs  *logbuf.Buffer
	admin string
	plain string
}

// fast are intervals short enough for tests to see rows and statistics at once.
func fast(o calllog.Options) calllog.Options {
	if o.FlushInterval == 0 {
		o.FlushInterval = 10 * time.Millisecond
	}
	if o.StatsInterval == 0 {
		o.StatsInterval = 20 * time.Millisecond
	}
	return o
}

func newEnv(t testing.TB, db *bun.DB, opts calllog.Options) *env {
	t.Helper()
	e := &env{db: db, logs: new(logbuf.Buffer)}
	logger := slog.New(slog.NewTextHandler(e.logs, nil))
	e.reg = rpc.New(rpc.Options{
		Logger:      logger,
		Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"}),
	})
	e.c = rpctest.New(e.reg)
	e.admin, e.plain = addTokens(t, e.reg)
	registerTestMethods(e.reg)
	if opts.Logger == nil {
		opts.Logger = logger
	}
	mod, err := calllog.Mount(t.Context(), e.reg, db, opts)
	require.NoError(t, err)
	e.mod = mod
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = mod.Close(ctx)
	})
	return e
}

func addTokens(t testing.TB, reg *rpc.Registry) (admin, plain string) {
	t.Helper()
	admin, adminDigest, err := auth.NewToken(auth.KindSession)
	require.NoError(t, err)
	plain, plainDigest, err := auth.NewToken(auth.KindSession)
	require.NoError(t, err)
	ann := &auth.Principal{UserID: 7, Username: "ann", Kind: auth.KindSession, TokenID: 70, Permissions: map[string]bool{"admin": true}}
	bob := &auth.Principal{UserID: 8, Username: "bob", Kind: auth.KindSession, TokenID: 80}
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(ctx context.Context, token string) (*auth.Principal, error) {
		switch d := auth.Digest(token); {
		case bytes.Equal(d, adminDigest):
			return ann, nil
		case bytes.Equal(d, plainDigest):
			return bob, nil
		}
		return nil, auth.ErrUnknownToken
	}))
	return admin, plain
}

func registerTestMethods(reg *rpc.Registry) {
	m := reg.Section("/v1/t", "Call log tests")
	anyone := []string{auth.Anyone}
	m.Register(rpc.Method{ID: "ok", Title: "OK", Permissions: anyone,
		Params:  []rpc.Param{{Name: "text?"}},
		Handler: func(ctx context.Context, text string) (string, error) { return "ok " + text, nil },
	})
	m.Register(rpc.Method{ID: "fail", Title: "Fail", Permissions: anyone,
		Handler: func(ctx context.Context) error { return rpc.BadRequest("no \"good\" input") },
	})
	m.Register(rpc.Method{ID: "boom", Title: "Boom", Permissions: anyone,
		Handler: func(ctx context.Context) error { return errors.New("database exploded") },
	})
	m.Register(rpc.Method{ID: "panic", Title: "Panic", Permissions: anyone,
		Handler: func(ctx context.Context) error { panic("bug") },
	})
	m.Register(rpc.Method{ID: "admin-only", Title: "Admin only", Permissions: []string{"admin"},
		Handler: func(ctx context.Context) error { return nil },
	})
	m.Register(rpc.Method{ID: "limited", Title: "Limited", Permissions: anyone,
		RateLimit: &rpc.RateLimit{PerSecond: 0.001, Burst: 1},
		Handler:   func(ctx context.Context) error { return nil },
	})
	m.Register(rpc.Method{ID: "quiet", Title: "Quiet", Permissions: anyone, NoCallLog: true,
		Handler: func(ctx context.Context) error { return nil },
	})
}

// ok calls as the admin and requires a 200 answer, decoding its data into
// out unless out is nil.
func (e *env) ok(t testing.TB, id, body string, out any) *rpctest.Answer {
	t.Helper()
	a := e.c.As(e.admin).Post(t, id, body)
	require.Equal(t, http.StatusOK, a.HTTP, a.Raw)
	if out != nil {
		a.Decode(t, out)
	}
	return a
}

// row is a read-log row as the wire carries it.
type row struct {
	ID          string    `json:"id"`
	MethodID    string    `json:"method_id"`
	UserID      *string   `json:"user_id"`
	Date        time.Time `json:"date"`
	Runtime     float64   `json:"runtime"`
	Status      int       `json:"status"`
	StatusText  string    `json:"status_text"`
	IsDeclined  bool      `json:"is_declined"`
	IsError     bool      `json:"is_error"`
	IsException bool      `json:"is_exception"`
}

// readAll reads every logged row of a method, newest first, page by page.
func (e *env) readAll(t testing.TB, method string) []row {
	t.Helper()
	var all []row
	for {
		var page []row
		body, _ := json.Marshal([]any{map[string]any{
			"where": map[string]any{"method_id": method}, "offset": len(all),
		}})
		a := e.ok(t, readLog, string(body), &page)
		all = append(all, page...)
		if len(page) < 100 {
			require.EqualValues(t, len(all), a.Meta["total"])
			return all
		}
	}
}

func (e *env) latest(t testing.TB, method string) calllog.MethodStats {
	t.Helper()
	var out []calllog.MethodStats
	e.ok(t, readLatest, `["`+method+`"]`, &out)
	require.Len(t, out, 1)
	return out[0]
}

func (e *env) history(t testing.TB, method string) calllog.MethodStats {
	t.Helper()
	var out calllog.MethodStats
	e.ok(t, readHistory, `["`+method+`"]`, &out)
	return out
}

func sum(ms calllog.MethodStats) (accepted, declined, errs, exceptions int64) {
	for _, b := range ms.Buckets {
		accepted += b.TotalAccepted
		declined += b.TotalDeclined
		errs += b.TotalErrors
		exceptions += b.TotalExceptions
	}
	return
}
