package settings_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/settings"
)

// env is a registry with the settings module mounted on a test database,
// and two callers: one holding "admin", one holding nothing.
type env struct {
	db    *bun.DB
	reg   *rpc.Registry
	mod   *settings.Module
	admin string
	plain string
	logs  *lockedBuffer
}

func newEnv(t *testing.T, db *bun.DB, opts settings.Options) *env {
	t.Helper()
	e := &env{db: db, logs: &lockedBuffer{}}
	e.reg = rpc.New(rpc.Options{
		Logger:      slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"}),
	})
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
	e.mod, err = settings.Mount(context.Background(), e.reg, db, opts)
	require.NoError(t, err)
	return e
}

// answer is a decoded response envelope.
type answer struct {
	HTTP int
	Raw  string
	Body struct {
		Result *struct {
			Status int             `json:"status"`
			Data   json.RawMessage `json:"data"`
		} `json:"result"`
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Data    struct {
				Exception *bool          `json:"exception"`
				Meta      map[string]any `json:"meta"`
			} `json:"data"`
		} `json:"error"`
	}
}

func (a answer) code() int {
	if a.Body.Error != nil {
		return a.Body.Error.Code
	}
	return a.Body.Result.Status
}

func (a answer) message() string {
	if a.Body.Error != nil {
		return a.Body.Error.Message
	}
	return ""
}

func (a answer) data() string {
	if a.Body.Result == nil {
		return ""
	}
	return string(a.Body.Result.Data)
}

// call POSTs body to a method of /v1/admin/settings as the bearer of token.
func (e *env) call(t *testing.T, token, method, body string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/admin/settings/"+method, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.reg.ServeHTTP(rec, req)
	a := answer{HTTP: rec.Code, Raw: rec.Body.String()}
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"), a.Raw)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a.Body), a.Raw)
	require.True(t, (a.Body.Error == nil) != (a.Body.Result == nil), "exactly one of result and error: %s", a.Raw)
	if a.Body.Error != nil {
		require.NotNil(t, a.Body.Error.Data.Exception, a.Raw)
		require.NotNil(t, a.Body.Error.Data.Meta, a.Raw)
	}
	return a
}

// admin calls a method as the admin and requires a 200.
func (e *env) ok(t *testing.T, method, body string) string {
	t.Helper()
	a := e.call(t, e.admin, method, body)
	require.Equal(t, 200, a.HTTP, a.Raw)
	require.Equal(t, 200, a.code(), a.Raw)
	return a.data()
}

// refused calls a method as the admin and requires the code.
func (e *env) refused(t *testing.T, code int, method, body string) answer {
	t.Helper()
	a := e.call(t, e.admin, method, body)
	require.Equal(t, code, a.code(), "%s %s: %s", method, body, a.Raw)
	return a
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
