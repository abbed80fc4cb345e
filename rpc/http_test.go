package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/logbuf"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// request is a request of a table case: do sends it through rpctest.
type request struct {
	method  string // HTTP method, default POST
	path    string
	body    string
	headers map[string]string
}

// do sends r with the headers it names. A POST with a body is sent as
// application/json; a request without a body is sent with no Content-Type.
func do(t *testing.T, h http.Handler, r request) *rpctest.Answer {
	t.Helper()
	c := rpctest.New(h)
	for k, v := range r.headers {
		c = c.With(k, v)
	}
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.method == http.MethodPost && r.body != "" {
		return c.Post(t, r.path, r.body)
	}
	return c.Do(t, httptest.NewRequest(r.method, r.path, strings.NewReader(r.body)))
}

type fields struct {
	Username string            `json:"username"`
	Email    string            `json:"email,omitempty"`
	Port     int               `json:"port,omitempty" jsonschema:"minimum=0,maximum=65535"`
	Perms    map[string]bool   `json:"permissions,omitempty"`
	Tags     []string          `json:"tags,omitempty"`
	Extra    map[string]string `json:"-"`
}

// fixture is a registry with methods that exercise every path of the transport.
type fixture struct {
	reg   *rpc.Registry
	c     *rpctest.Client // a guest calling reg
	logs  *logbuf.Buffer
	user  string // a session token for user 7, who holds "admin"
	plain string // a session token for user 8, who holds nothing
	ran   chan string
	obs   *observer
	gate  atomic.Pointer[chan struct{}] // the slow method waits for it to close; nil: it does not wait
}

// holdSlow makes the slow method wait, before it says it ran, until
// release is called.
func (f *fixture) holdSlow() (release func()) {
	ch := make(chan struct{})
	f.gate.Store(&ch)
	return sync.OnceFunc(func() { close(ch) })
}

type observer struct {
	mu      sync.Mutex
	records []rpc.CallRecord
}

func (o *observer) ObserveCall(rec rpc.CallRecord) {
	o.mu.Lock()
	o.records = append(o.records, rec)
	o.mu.Unlock()
}

func (o *observer) last() rpc.CallRecord {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.records) == 0 {
		return rpc.CallRecord{}
	}
	return o.records[len(o.records)-1]
}

func (o *observer) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.records)
}

func newFixture(t *testing.T, opts rpc.Options) *fixture {
	t.Helper()
	f := &fixture{logs: new(logbuf.Buffer), ran: make(chan string, 16), obs: &observer{}}
	opts.Logger = slog.New(slog.NewJSONHandler(f.logs, nil))
	if opts.Permissions == nil {
		opts.Permissions = auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"})
	}
	if opts.UploadDir == "" {
		opts.UploadDir = t.TempDir()
	}
	f.reg = rpc.New(opts)
	f.c = rpctest.New(f.reg)
	f.reg.Observe(f.obs)

	tokens := map[string]*auth.Principal{}
	var err error
	var digestUser, digestPlain []byte
	f.user, digestUser, err = auth.NewToken(auth.KindSession)
	require.NoError(t, err)
	f.plain, digestPlain, err = auth.NewToken(auth.KindSession)
	require.NoError(t, err)
	tokens[string(digestUser)] = &auth.Principal{UserID: 7, Username: "ann", Kind: auth.KindSession, TokenID: 70, Permissions: map[string]bool{"admin": true}}
	tokens[string(digestPlain)] = &auth.Principal{UserID: 8, Username: "bob", Kind: auth.KindSession, TokenID: 80}
	f.reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(ctx context.Context, token string) (*auth.Principal, error) {
		if p, ok := tokens[string(auth.Digest(token))]; ok {
			return p, nil
		}
		return nil, auth.ErrUnknownToken
	}))

	m := f.reg.Section("/v1/t", "Transport tests")
	m.Register(rpc.Method{
		ID: "echo", Title: "Echo", Permissions: []string{auth.Anyone},
		Params: []rpc.Param{{Name: "text?"}},
		Handler: func(ctx context.Context, text string) (string, error) {
			return text, nil
		},
	})
	m.Register(rpc.Method{
		ID: "pair", Title: "Pair", Permissions: []string{auth.Anyone},
		Params: []rpc.Param{{Name: "name"}, {Name: "enabled"}, {Name: "count?"}},
		Handler: func(ctx context.Context, name string, enabled bool, count *int) (map[string]any, error) {
			return map[string]any{"name": name, "enabled": enabled, "count": count}, nil
		},
	})
	m.Register(rpc.Method{
		ID: "create", Title: "Create", Permissions: []string{"admin"},
		Params: []rpc.Param{{Name: "fields", Description: "The new thing."}},
		Handler: func(ctx context.Context, fl fields) (fields, error) {
			if fl.Username == "taken" {
				return fields{}, rpc.Conflict("user %q already exists", fl.Username)
			}
			return fl, nil
		},
	})
	m.Register(rpc.Method{
		ID: "whoami", Title: "Who am I", Permissions: []string{auth.User},
		Handler: func(ctx context.Context) (string, error) {
			p := auth.FromContext(ctx)
			return p.Username, nil
		},
	})
	m.Register(rpc.Method{
		ID: "guest-only", Title: "Guest only", Permissions: []string{auth.Guest},
		Handler: func(ctx context.Context) error { return nil },
	})
	m.Register(rpc.Method{
		ID: "code", Title: "Answer a code", Permissions: []string{auth.Anyone},
		Params: []rpc.Param{{Name: "code"}},
		Handler: func(ctx context.Context, code int) (any, error) {
			switch code {
			case 200:
				return nil, nil
			case 204:
				return rpc.NoContent(), nil
			case 500:
				return nil, fmt.Errorf("db: pq: relation \"users\" does not exist")
			case 501:
				panic("boom: secret detail")
			}
			return nil, rpc.Errorf(code, "answered %d", code)
		},
	})
	m.Register(rpc.Method{
		ID: "page", Title: "Page", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) (rpc.Result, error) {
			return rpc.Page([]string{"a", "b"}, 42), nil
		},
	})
	m.Register(rpc.Method{
		ID: "limited", Title: "Limited", Permissions: []string{auth.Anyone},
		RateLimit: &rpc.RateLimit{PerSecond: 0.001, Burst: 2},
		Handler:   func(ctx context.Context) error { return nil },
	})
	m.Register(rpc.Method{
		ID: "slow", Title: "Slow", Permissions: []string{auth.Anyone},
		Params: []rpc.Param{{Name: "tag"}},
		Handler: func(ctx context.Context, tag string) error {
			if g := f.gate.Load(); g != nil {
				<-*g
			}
			f.ran <- tag
			return nil
		},
	})
	m.Register(rpc.Method{
		ID: "novoid", Title: "No void", Permissions: []string{auth.Anyone}, NoVoid: true,
		Handler: func(ctx context.Context) error { return nil },
	})
	m.Register(rpc.Method{
		ID: "unlogged", Title: "Unlogged", Permissions: []string{auth.Anyone}, NoCallLog: true,
		Handler: func(ctx context.Context) error { return nil },
	})
	m.Register(rpc.Method{
		ID: "small", Title: "Small body", Permissions: []string{auth.Anyone}, MaxBodyBytes: 64,
		Params:  []rpc.Param{{Name: "text"}},
		Handler: func(ctx context.Context, text string) (int, error) { return len(text), nil },
	})
	m.Register(rpc.Method{
		ID: "upload", Title: "Upload", Permissions: []string{auth.Anyone}, MaxUploadBytes: 1000,
		Params: []rpc.Param{{Name: "note?"}},
		Handler: func(ctx context.Context, note string) (map[string]any, error) {
			up := rpc.UploadFromContext(ctx)
			if up == nil {
				return nil, rpc.BadRequest("no file")
			}
			f, err := up.Open()
			if err != nil {
				return nil, err
			}
			defer f.Close()
			b, err := io.ReadAll(f)
			if err != nil {
				return nil, err
			}
			return map[string]any{"name": up.Filename, "size": up.Size, "content": string(b), "note": note}, nil
		},
	})
	m.Register(rpc.Method{
		ID: "addr", Title: "Client address", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) (string, error) { return rpc.CallFromContext(ctx).ClientAddr, nil },
	})
	return f
}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

func TestRequestShapes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	cases := []struct {
		name string
		req  request
		data string
	}{
		{"array", request{path: "/v1/t/echo", body: `["hi"]`}, `"hi"`},
		{"value that is not an array", request{path: "/v1/t/echo", body: `"hi"`}, `"hi"`},
		{"empty body", request{path: "/v1/t/echo"}, `""`},
		{"whitespace body", request{path: "/v1/t/echo", body: " \n "}, `""`},
		{"GET without query", request{method: http.MethodGet, path: "/v1/t/echo"}, `""`},
		{"null for an optional param", request{path: "/v1/t/pair", body: `["a", true, null]`}, `{"count":null,"enabled":true,"name":"a"}`},
		{"optional tail left out", request{path: "/v1/t/pair", body: `["a", false]`}, `{"count":null,"enabled":false,"name":"a"}`},
		{"all params", request{path: "/v1/t/pair", body: `["a", true, 3]`}, `{"count":3,"enabled":true,"name":"a"}`},
		{"object as the only param", request{path: "/v1/t/create", body: `{"username":"x","port":80}`, headers: bearer(f.user)}, `{"username":"x","port":80}`},
		{"content type with charset", request{path: "/v1/t/echo", body: `["x"]`, headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}}, `"x"`},
		{"no content type", request{path: "/v1/t/echo", body: `["x"]`, headers: map[string]string{"Content-Type": ""}}, `"x"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := do(t, f.reg, c.req)
			require.Equal(t, http.StatusOK, a.HTTP, a.Raw)
			assert.Equal(t, 200, a.Code)
			assert.Equal(t, "OK", a.StatusText)
			assert.False(t, a.Exception)
			assert.JSONEq(t, c.data, string(a.Data))
			assert.NotNil(t, a.Meta, "meta is always an object")
			assert.Empty(t, a.ID, "no id without a JSON-RPC request object")
		})
	}
}

func TestJSONRPCRequestObject(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	t.Run("id echoed, method from the body", func(t *testing.T) {
		a := f.c.Post(t, "/", `{"jsonrpc":"2.0","method":"/v1/t/echo","params":["hey"],"id":17}`)
		require.Equal(t, 200, a.HTTP, a.Raw)
		assert.Equal(t, "17", string(a.ID))
		assert.JSONEq(t, `"hey"`, string(a.Data))
	})
	t.Run("string id, on the method's own path", func(t *testing.T) {
		a := f.c.Post(t, "/v1/t/echo", `{"jsonrpc":"2.0","method":"/v1/t/echo","params":["x"],"id":"abc"}`)
		require.Equal(t, 200, a.HTTP, a.Raw)
		assert.Equal(t, `"abc"`, string(a.ID))
		assert.JSONEq(t, `"x"`, string(a.Data))
	})
	t.Run("params by name", func(t *testing.T) {
		a := f.c.Post(t, "/", `{"jsonrpc":"2.0","method":"/v1/t/pair","params":{"enabled":true,"name":"n"},"id":1}`)
		require.Equal(t, 200, a.HTTP, a.Raw)
		assert.JSONEq(t, `{"count":null,"enabled":true,"name":"n"}`, string(a.Data))
	})
	t.Run("unknown param by name", func(t *testing.T) {
		a := f.c.Post(t, "/", `{"jsonrpc":"2.0","method":"/v1/t/pair","params":{"name":"n","enabled":true,"colour":1},"id":2}`)
		assert.Equal(t, 400, a.HTTP)
		assert.Equal(t, rpc.CodeInvalidParams, a.Code)
		assert.Contains(t, a.Message, `"colour"`)
		assert.Equal(t, "2", string(a.ID), "the id is echoed on errors too")
	})
	t.Run("unknown method", func(t *testing.T) {
		a := f.c.Post(t, "/", `{"jsonrpc":"2.0","method":"/v1/nope","id":3}`)
		assert.Equal(t, 404, a.HTTP)
		assert.Equal(t, rpc.CodeMethodNotFound, a.Code)
		assert.Equal(t, "3", string(a.ID))
	})
	t.Run("scalar params", func(t *testing.T) {
		a := f.c.Post(t, "/", `{"jsonrpc":"2.0","method":"/v1/t/echo","params":5,"id":4}`)
		assert.Equal(t, rpc.CodeInvalidParams, a.Code)
		a = f.c.Post(t, "/", `{"jsonrpc":"2.0","method":"/v1/t/whoami","params":5,"id":5}`)
		assert.Equal(t, rpc.CodeInsufficientPermissions, a.Code, "permissions are checked before parameters")
	})
	t.Run("object without jsonrpc is a parameter", func(t *testing.T) {
		a := f.c.Post(t, "/v1/t/echo", `{"method":"/v1/t/echo"}`)
		assert.Equal(t, rpc.CodeInvalidParams, a.Code, a.Raw)
		assert.Contains(t, a.Message, `parameter 1 "text"`)
	})
}

// TestStatusTable walks every row of the wire format's status table.
func TestStatusTable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	cases := []struct {
		name     string
		req      request
		http     int
		code     int
		contains string
	}{
		{"200", request{path: "/v1/t/code", body: `[200]`}, 200, 200, ""},
		{"204 sent as HTTP 200", request{path: "/v1/t/code", body: `[204]`}, 200, 204, ""},
		{"400", request{path: "/v1/t/code", body: `[400]`}, 400, 400, "answered 400"},
		{"401", request{path: "/v1/t/code", body: `[401]`}, 401, 401, "answered 401"},
		{"403", request{path: "/v1/t/code", body: `[403]`}, 403, 403, "answered 403"},
		{"404", request{path: "/v1/t/code", body: `[404]`}, 404, 404, "answered 404"},
		{"409", request{path: "/v1/t/create", body: `[{"username":"taken"}]`, headers: bearer(f.user)}, 409, 409, `"taken" already exists`},
		{"500 from an error", request{path: "/v1/t/code", body: `[500]`}, 500, 500, "Internal Server Error"},
		{"500 from a panic", request{path: "/v1/t/code", body: `[501]`}, 500, 500, "Internal Server Error"},
		{"-32801 guest calls a user method", request{path: "/v1/t/whoami"}, 401, rpc.CodeInsufficientPermissions, "Insufficient permissions"},
		{"-32801 user lacks the permission", request{path: "/v1/t/create", body: `[{"username":"x"}]`, headers: bearer(f.plain)}, 401, rpc.CodeInsufficientPermissions, ""},
		{"-32803", request{path: "/v1/t/echo", body: `hi`, headers: map[string]string{"Content-Type": "text/plain"}}, 415, rpc.CodeUnsupportedMediaType, `"text/plain"`},
		{"-32807", request{path: "/v1/t/echo", body: `["hi"`}, 400, rpc.CodeParseError, "not valid JSON"},
		{"-32807 trailing garbage", request{path: "/v1/t/echo", body: `["hi"] x`}, 400, rpc.CodeParseError, "not valid JSON"},
		{"-32807 not UTF-8", request{path: "/v1/t/echo", body: "[\"a\xffb\"]"}, 400, rpc.CodeParseError, "not valid UTF-8"},
		{"-32809 a long id is quoted short", request{path: "/v1/t/" + strings.Repeat("x", 5000)}, 404, rpc.CodeMethodNotFound, `xxx"… not found`},
		{"-32808", request{path: "/v1/t/echo", body: `[1]`}, 400, rpc.CodeInvalidParams, `parameter 1 "text": expected a string, got an integer`},
		{"-32809", request{path: "/v1/t/missing"}, 404, rpc.CodeMethodNotFound, `"/v1/t/missing" not found`},
		{"-32902", request{path: "/v1/t/small", body: `["` + strings.Repeat("x", 100) + `"]`}, 413, rpc.CodeTooLarge, "larger than 64 bytes"},
		{"405", request{method: http.MethodPut, path: "/v1/t/echo"}, 405, 405, "PUT"},
		{"GET with a query", request{method: http.MethodGet, path: "/v1/t/echo?x=1"}, 400, 400, "query"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := do(t, f.reg, c.req)
			require.Equal(t, c.http, a.HTTP, a.Raw)
			require.Equal(t, c.code, a.Code, a.Raw)
			assert.Contains(t, a.Message, c.contains)
			if a.Err() {
				assert.Equal(t, c.code == 500, a.Exception, "exception only for internal errors")
			}
		})
	}
	t.Run("internal errors leak nothing and are logged with the method", func(t *testing.T) {
		for _, code := range []string{"500", "501"} {
			a := f.c.Post(t, "/v1/t/code", "["+code+"]")
			assert.NotContains(t, a.Raw, "pq")
			assert.NotContains(t, a.Raw, "secret")
		}
		logs := f.logs.String()
		assert.Contains(t, logs, `"method":"/v1/t/code"`)
		assert.Contains(t, logs, `relation \"users\" does not exist`)
		assert.Contains(t, logs, "boom: secret detail")
	})
	t.Run("429 after the burst, declined in the call record", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			a := f.c.Call(t, "/v1/t/limited")
			require.Equal(t, 200, a.HTTP, a.Raw)
		}
		a := f.c.Call(t, "/v1/t/limited")
		assert.Equal(t, 429, a.HTTP)
		assert.Equal(t, 429, a.Code)
		rec := f.obs.last()
		assert.True(t, rec.Declined)
		assert.Equal(t, "/v1/t/limited", rec.Method)
		// Another caller has its own bucket.
		a = f.c.As(f.user).Call(t, "/v1/t/limited")
		assert.Equal(t, 200, a.HTTP, a.Raw)
	})
	t.Run("guests on one IPv6 /64 share a bucket", func(t *testing.T) {
		// One subscriber holds a whole /64: a fresh address each call must
		// not be a fresh bucket.
		for _, addr := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2"} {
			a := f.c.From(addr).Call(t, "/v1/t/limited")
			require.Equal(t, 200, a.HTTP, a.Raw)
		}
		a := f.c.From("2001:db8:1:2:ffff::3").Call(t, "/v1/t/limited")
		assert.Equal(t, 429, a.HTTP, "same /64: "+a.Raw)
		a = f.c.From("2001:db8:1:3::1").Call(t, "/v1/t/limited")
		assert.Equal(t, 200, a.HTTP, "another /64: "+a.Raw)
	})
}

func TestValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	admin := f.c.As(f.user)
	cases := []struct {
		name, path, body string
		contains         []string
	}{
		{"missing required", "/v1/t/pair", `["a"]`, []string{`parameter 2 "enabled" is required`}},
		{"null for a required param", "/v1/t/pair", `[null, true]`, []string{`parameter 1 "name" is required`}},
		{"too many", "/v1/t/pair", `["a", true, 1, 2]`, []string{"too many parameters", "takes 3, got 4"}},
		{"wrong type", "/v1/t/pair", `["a", "yes"]`, []string{`parameter 2 "enabled"`, "expected a boolean, got a string"}},
		{"float for an integer", "/v1/t/pair", `["a", true, 1.5]`, []string{`parameter 3 "count"`}},
		{"object for a string", "/v1/t/echo", `[{"a":1}]`, []string{"expected a string, got an object"}},
		{"missing property", "/v1/t/create", `[{"email":"a@b.c"}]`, []string{`parameter 1 "fields"`, "missing property 'username'"}},
		{"extra property", "/v1/t/create", `[{"username":"a","admin":true}]`, []string{`parameter 1 "fields"`, `unknown properties not allowed: "admin"`}},
		{"property of the wrong type", "/v1/t/create", `[{"username":5}]`, []string{"at /username: expected a string, got a number"}},
		{"maximum", "/v1/t/create", `[{"username":"a","port":70000}]`, []string{"at /port: must be at most 65535, got 70000"}},
		{"map value type", "/v1/t/create", `[{"username":"a","permissions":{"admin":"yes"}}]`, []string{"at /permissions/admin: expected a boolean, got a string"}},
		{"case-folded key is still unknown", "/v1/t/create", `[{"USERNAME":"a"}]`, []string{"missing property 'username'"}},
		{"deep nesting", "/v1/t/create", `[{"username":"a","tags":[` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `]}]`, []string{"at /tags/0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := admin.Post(t, c.path, c.body)
			require.Equal(t, 400, a.HTTP, a.Raw)
			require.Equal(t, rpc.CodeInvalidParams, a.Code, a.Raw)
			for _, s := range c.contains {
				assert.Contains(t, a.Message, s)
			}
		})
	}
}

func TestPermissions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	a := f.c.As(f.plain).Call(t, "/v1/t/whoami")
	require.Equal(t, 200, a.HTTP, a.Raw)
	assert.JSONEq(t, `"bob"`, string(a.Data))

	a = f.c.As(f.plain).Call(t, "/v1/t/guest-only")
	assert.Equal(t, rpc.CodeInsufficientPermissions, a.Code)
	a = f.c.Call(t, "/v1/t/guest-only")
	assert.Equal(t, 200, a.Code)

	// A token that does not authenticate leaves the caller a guest.
	for _, token := range []string{"garbage", "ses_" + strings.Repeat("A", 43), f.user + "x", "tok_abc"} {
		a = f.c.As(token).Call(t, "/v1/t/whoami")
		assert.Equal(t, rpc.CodeInsufficientPermissions, a.Code, token)
		a = f.c.As(token).Call(t, "/v1/t/guest-only")
		assert.Equal(t, 200, a.Code, token)
	}
	// The scheme is case-insensitive.
	a = f.c.With("Authorization", "bearer "+f.plain).Call(t, "/v1/t/whoami")
	assert.Equal(t, 200, a.Code)
}

func TestAuthenticatorFailureIsInternal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	f.reg.Auth().Handle(auth.KindAPIToken, auth.AuthenticatorFunc(func(ctx context.Context, token string) (*auth.Principal, error) {
		return nil, errors.New("connection refused")
	}))
	token, _, err := auth.NewToken(auth.KindAPIToken)
	require.NoError(t, err)
	a := f.c.As(token).Call(t, "/v1/t/echo")
	assert.Equal(t, 500, a.HTTP)
	assert.True(t, a.Exception)
	assert.NotContains(t, a.Raw, "refused")
}

func TestResultMeta(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	a := f.c.Call(t, "/v1/t/page")
	require.Equal(t, 200, a.HTTP)
	assert.JSONEq(t, `["a","b"]`, string(a.Data))
	assert.Equal(t, float64(42), a.Meta["total"])
}

func TestVoidCall(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{MaxVoidCalls: 2})
	for _, h := range []string{"X-API-Void-Call", "API-Call-Void"} {
		release := f.holdSlow()
		a := f.c.With(h, "true").Call(t, "/v1/t/slow", h)
		require.Equal(t, 200, a.HTTP, a.Raw) // answered while the handler is held: before it ran
		assert.Empty(t, string(a.Data))
		release()
		select {
		case tag := <-f.ran:
			assert.Equal(t, h, tag)
		case <-time.After(5 * time.Second):
			t.Fatal("the void call never ran")
		}
	}
	t.Run("bad parameters are still refused at once", func(t *testing.T) {
		a := f.c.With(rpc.HeaderVoidCall, "true").Call(t, "/v1/t/slow", 1)
		assert.Equal(t, rpc.CodeInvalidParams, a.Code)
	})
	t.Run("a method may refuse void calls", func(t *testing.T) {
		a := f.c.With(rpc.HeaderVoidCall, "true").Call(t, "/v1/t/novoid")
		assert.Equal(t, 400, a.Code)
		assert.Contains(t, a.Message, "void")
	})
	t.Run("bounded, and shutdown waits", func(t *testing.T) {
		// A registry of its own: the calls above may still hold their slots
		// for a moment after they reported running.
		f := newFixture(t, rpc.Options{MaxVoidCalls: 2})
		release := f.holdSlow()
		void := f.c.With(rpc.HeaderVoidCall, "true")
		for i := 0; i < 2; i++ {
			a := void.Call(t, "/v1/t/slow", "bound")
			require.Equal(t, 200, a.HTTP)
		}
		a := void.Call(t, "/v1/t/slow", "over")
		assert.Equal(t, 429, a.HTTP, "a third void call is over the bound of 2")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- f.reg.Shutdown(ctx) }()
		release()
		require.NoError(t, <-done)
		assert.Len(t, f.ran, 2, "shutdown returned after both background calls finished")
		a = void.Call(t, "/v1/t/slow", "late")
		assert.Equal(t, 429, a.HTTP, "no void calls after shutdown")
	})
}

func TestCallRecords(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	f.c.As(f.plain).Call(t, "/v1/t/whoami")
	rec := f.obs.last()
	assert.Equal(t, "/v1/t/whoami", rec.Method)
	assert.Equal(t, int64(8), rec.UserID)
	assert.Equal(t, 200, rec.Code)
	assert.False(t, rec.Error || rec.Declined || rec.Exception)

	f.c.Call(t, "/v1/t/whoami")
	rec = f.obs.last()
	assert.True(t, rec.Declined && rec.Error)
	assert.Equal(t, int64(0), rec.UserID)

	f.c.Call(t, "/v1/t/code", 501)
	rec = f.obs.last()
	assert.True(t, rec.Exception && rec.Error && !rec.Declined)

	f.c.Call(t, "/v1/t/echo", 1)
	rec = f.obs.last()
	assert.Equal(t, rpc.CodeInvalidParams, rec.Code)
	assert.True(t, rec.Error && !rec.Declined)

	n := f.obs.count()
	f.c.Call(t, "/v1/t/unlogged")
	f.c.Call(t, "/v1/t/nothing-here")
	assert.Equal(t, n, f.obs.count(), "unlogged methods and unknown methods are not recorded")
}

func multipartRequest(t *testing.T, path string, parts map[string]string, filename string, file []byte) *http.Request {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for name, v := range parts {
		require.NoError(t, mw.WriteField(name, v))
	}
	if file != nil {
		fw, err := mw.CreateFormFile("file", filename)
		require.NoError(t, err)
		_, err = fw.Write(file)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	req := httptest.NewRequest(http.MethodPost, path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

func TestUpload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := newFixture(t, rpc.Options{UploadDir: dir})
	empty := func() {
		t.Helper()
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Empty(t, entries, "nothing of an upload is kept")
	}

	a := f.c.Do(t, multipartRequest(t, "/v1/t/upload", map[string]string{"params": `["hello"]`}, "../../etc/passwd", []byte("file body")))
	require.Equal(t, 200, a.HTTP, a.Raw)
	assert.JSONEq(t, `{"name":"passwd","size":9,"content":"file body","note":"hello"}`, string(a.Data))
	empty()

	a = f.c.Do(t, multipartRequest(t, "/v1/t/upload", nil, "big.bin", bytes.Repeat([]byte("x"), 1001)))
	assert.Equal(t, 413, a.HTTP, a.Raw)
	assert.Equal(t, rpc.CodeTooLarge, a.Code)
	empty()

	a = f.c.Do(t, multipartRequest(t, "/v1/t/upload", map[string]string{"params": `[5]`}, "a.txt", []byte("x")))
	assert.Equal(t, rpc.CodeInvalidParams, a.Code, a.Raw)
	empty()

	a = f.c.Do(t, multipartRequest(t, "/v1/t/upload", map[string]string{"other": `x`}, "a.txt", []byte("x")))
	assert.Equal(t, 400, a.Code, a.Raw)
	assert.Contains(t, a.Message, `"other"`)
	empty()

	a = f.c.Do(t, multipartRequest(t, "/v1/t/echo", nil, "a.txt", []byte("x")))
	assert.Equal(t, rpc.CodeUnsupportedMediaType, a.Code, "only upload methods take multipart")
	empty()

	req := httptest.NewRequest(http.MethodPost, "/v1/t/upload", strings.NewReader("--x\r\n"))
	req.Header.Set("Content-Type", "multipart/form-data")
	a = f.c.Do(t, req)
	assert.Equal(t, 400, a.HTTP, a.Raw)
	empty()
}

func TestClientAddress(t *testing.T) {
	t.Parallel()
	plain := newFixture(t, rpc.Options{})
	req := httptest.NewRequest(http.MethodPost, "/v1/t/addr", nil)
	req.RemoteAddr = "192.0.2.7:5555"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	a := plain.c.Do(t, req)
	assert.JSONEq(t, `"192.0.2.7"`, string(a.Data), "a proxy header is ignored unless trusted")

	proxied := newFixture(t, rpc.Options{TrustedProxyHeader: "X-Forwarded-For", TrustedProxies: proxyNet})
	req = httptest.NewRequest(http.MethodPost, "/v1/t/addr", nil)
	req.RemoteAddr = "10.0.0.1:5555"
	req.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.9")
	a = proxied.c.Do(t, req)
	assert.JSONEq(t, `"203.0.113.9"`, string(a.Data), "the entry the trusted proxy added, not the client's")
}

func TestRegisterRefusesMistakes(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{})
	ok := func(ctx context.Context, s string) error { return nil }
	cases := map[string]rpc.Method{
		"bad id":             {ID: "v1/x", Permissions: []string{"*"}, Params: []rpc.Param{{Name: "s"}}, Handler: ok},
		"no permissions":     {ID: "/v1/x", Params: []rpc.Param{{Name: "s"}}, Handler: ok},
		"not a func":         {ID: "/v1/x", Permissions: []string{"*"}, Handler: 5},
		"params mismatch":    {ID: "/v1/x", Permissions: []string{"*"}, Handler: ok},
		"no context":         {ID: "/v1/x", Permissions: []string{"*"}, Params: []rpc.Param{{Name: "s"}}, Handler: func(s, t string) error { return nil }},
		"bad results":        {ID: "/v1/x", Permissions: []string{"*"}, Params: []rpc.Param{{Name: "s"}}, Handler: func(ctx context.Context, s string) string { return s }},
		"required after opt": {ID: "/v1/x", Permissions: []string{"*"}, Params: []rpc.Param{{Name: "a?"}, {Name: "b"}}, Handler: func(ctx context.Context, a, b string) error { return nil }},
		"bad param name":     {ID: "/v1/x", Permissions: []string{"*"}, Params: []rpc.Param{{Name: "a b"}}, Handler: ok},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Panics(t, func() { reg.Register(m) })
		})
	}
	reg.Register(rpc.Method{ID: "/v1/x", Permissions: []string{"*"}, Params: []rpc.Param{{Name: "s"}}, Handler: ok})
	assert.Panics(t, func() {
		reg.Register(rpc.Method{ID: "/v1/x", Permissions: []string{"*"}, Params: []rpc.Param{{Name: "s"}}, Handler: ok})
	}, "a duplicate id")
}

func TestTwoRegistriesAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := rpc.New(rpc.Options{}), rpc.New(rpc.Options{})
	a.Register(rpc.Method{ID: "/v1/only-a", Permissions: []string{"*"}, Handler: func(ctx context.Context) error { return nil }})
	assert.Equal(t, 200, rpctest.New(a).Call(t, "/v1/only-a").HTTP)
	assert.Equal(t, 404, rpctest.New(b).Call(t, "/v1/only-a").HTTP)
}

func TestPrefix(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{Prefix: "/api/"})
	a := f.c.Post(t, "/api/v1/t/echo", `["hi"]`)
	require.Equal(t, 200, a.Code, a.Raw)
	assert.JSONEq(t, `"hi"`, string(a.Data))
	a = f.c.Post(t, "/api/", `{"jsonrpc":"2.0","method":"/v1/t/echo","params":["rpc"],"id":1}`)
	require.Equal(t, 200, a.Code, a.Raw)
	assert.JSONEq(t, `"rpc"`, string(a.Data))
	for _, path := range []string{"/v1/t/echo", "/apix/v1/t/echo", "/", "/api/v1/t//echo"} {
		a = f.c.Post(t, path, `["hi"]`)
		assert.Equal(t, rpc.CodeMethodNotFound, a.Code, "%s: %s", path, a.Raw)
	}
}
