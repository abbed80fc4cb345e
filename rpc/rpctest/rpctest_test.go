package rpctest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// fakeT stands in for a test: it records what Fatalf was called with and
// ends the goroutine, as a test's Fatalf does. Anything else rpctest might
// call goes to the real test (embedded), so an unexpected call fails it.
type fakeT struct {
	testing.TB
	fatal string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatal runs fn with a fakeT in a goroutine of its own and returns what it
// failed with; "" when it did not fail.
func fatal(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	f := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.fatal
}

// sends is a handler that answers every request with status, Content-Type
// ct (none when empty) and body.
func sends(status int, ct, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

const (
	okBody    = `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"data":{"a":1},"meta":{"total":3}}}`
	errorBody = `{"jsonrpc":"2.0","error":{"code":-32808,"message":"parameter 1 \"x\" is required","data":{"exception":false,"meta":{"k":"v"}}}}`
)

// TestChecksFire answers envelopes that break each rule of the wire format:
// each call must fail the test, naming the rule and quoting the body.
func TestChecksFire(t *testing.T) {
	t.Parallel()
	const json = "application/json"
	cases := []struct {
		name   string
		status int
		ct     string
		body   string
		want   string
	}{
		{"no content type", 200, "", okBody, `Content-Type is "", not application/json`},
		{"another content type", 200, "text/plain", okBody, `Content-Type is "text/plain"`},
		{"content type with parameters", 200, "application/json; charset=utf-8", okBody, `Content-Type is "application/json; charset=utf-8"`},
		{"empty body", 200, json, ``, "not valid JSON"},
		{"not JSON", 200, json, `{"jsonrpc":"2.0",`, "not valid JSON"},
		{"not an object", 200, json, `[{"jsonrpc":"2.0"}]`, "not a JSON object"},
		{"no jsonrpc", 200, json, `{"result":{"status":200,"status_text":"OK","exception":false,"meta":{}}}`, `"jsonrpc" is not "2.0"`},
		{"jsonrpc 1.0", 200, json, `{"jsonrpc":"1.0","result":{"status":200,"status_text":"OK","exception":false,"meta":{}}}`, `"jsonrpc" is not "2.0"`},
		{"jsonrpc a number", 200, json, `{"jsonrpc":2.0,"result":{"status":200,"status_text":"OK","exception":false,"meta":{}}}`, `"jsonrpc" is not "2.0"`},
		{"neither", 200, json, `{"jsonrpc":"2.0"}`, `exactly one of "result" and "error"`},
		{"both", 200, json, `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"meta":{}},"error":{"code":400,"message":"x","data":{"exception":false,"meta":{}}}}`, `exactly one of "result" and "error"`},
		{"result null beside an error", 400, json, `{"jsonrpc":"2.0","result":null,"error":{"code":400,"message":"x","data":{"exception":false,"meta":{}}}}`, `exactly one of "result" and "error"`},
		{"result null", 200, json, `{"jsonrpc":"2.0","result":null}`, `"result" is not an object`},
		{"result an array", 200, json, `{"jsonrpc":"2.0","result":[]}`, `"result" is not an object`},
		{"result without status", 200, json, `{"jsonrpc":"2.0","result":{"status_text":"OK","exception":false,"meta":{}}}`, `"result" has no "status"`},
		{"status not an integer", 200, json, `{"jsonrpc":"2.0","result":{"status":200.5,"status_text":"OK","exception":false,"meta":{}}}`, `"result":`},
		{"status a string", 200, json, `{"jsonrpc":"2.0","result":{"status":"200","status_text":"OK","exception":false,"meta":{}}}`, `"result":`},
		{"result with an error status", 400, json, `{"jsonrpc":"2.0","result":{"status":400,"status_text":"Bad Request","exception":false,"meta":{}}}`, `status 400 of an error`},
		{"result without status_text", 200, json, `{"jsonrpc":"2.0","result":{"status":200,"exception":false,"meta":{}}}`, `no "status_text"`},
		{"result without exception", 200, json, `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","meta":{}}}`, `"result" has no "exception"`},
		{"result with exception", 200, json, `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":true,"meta":{}}}`, `"exception": true`},
		{"result without meta", 200, json, `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false}}`, `"result.meta" is not an object`},
		{"result meta null", 200, json, `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"meta":null}}`, `"result.meta" is not an object`},
		{"result meta an array", 200, json, `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"meta":[]}}`, `"result.meta" is not an object`},
		{"error a string", 500, json, `{"jsonrpc":"2.0","error":"boom"}`, `"error" is not an object`},
		{"error without code", 400, json, `{"jsonrpc":"2.0","error":{"message":"x","data":{"exception":false,"meta":{}}}}`, `"error" has no "code"`},
		{"error with a success code", 200, json, `{"jsonrpc":"2.0","error":{"code":200,"message":"x","data":{"exception":false,"meta":{}}}}`, `code 200, which is not an error`},
		{"error without message", 400, json, `{"jsonrpc":"2.0","error":{"code":400,"data":{"exception":false,"meta":{}}}}`, `no "message"`},
		{"error with an empty message", 400, json, `{"jsonrpc":"2.0","error":{"code":400,"message":"","data":{"exception":false,"meta":{}}}}`, `no "message"`},
		{"error without data", 400, json, `{"jsonrpc":"2.0","error":{"code":400,"message":"x"}}`, `"error.data" is not an object`},
		{"error data null", 400, json, `{"jsonrpc":"2.0","error":{"code":400,"message":"x","data":null}}`, `"error.data" is not an object`},
		{"error data a string", 400, json, `{"jsonrpc":"2.0","error":{"code":400,"message":"x","data":"x"}}`, `"error.data" is not an object`},
		{"error data without exception", 400, json, `{"jsonrpc":"2.0","error":{"code":400,"message":"x","data":{"meta":{}}}}`, `"error.data" has no "exception"`},
		{"error data exception a string", 400, json, `{"jsonrpc":"2.0","error":{"code":400,"message":"x","data":{"exception":"no","meta":{}}}}`, `"error.data":`},
		{"error data without meta", 400, json, `{"jsonrpc":"2.0","error":{"code":400,"message":"x","data":{"exception":false}}}`, `"error.data.meta" is not an object`},
		{"error data meta null", 400, json, `{"jsonrpc":"2.0","error":{"code":400,"message":"x","data":{"exception":false,"meta":null}}}`, `"error.data.meta" is not an object`},
		{"error data meta an array", 400, json, `{"jsonrpc":"2.0","error":{"code":400,"message":"x","data":{"exception":false,"meta":[]}}}`, `"error.data.meta" is not an object`},
		{"500 without exception", 500, json, `{"jsonrpc":"2.0","error":{"code":500,"message":"x","data":{"exception":false,"meta":{}}}}`, `"error.data.exception" is false for code 500`},
		{"exception for a 400", 400, json, `{"jsonrpc":"2.0","error":{"code":400,"message":"x","data":{"exception":true,"meta":{}}}}`, `"error.data.exception" is true for code 400`},
		{"HTTP 500 for a result", 500, json, okBody, "HTTP status 500 does not go with code 200, which is sent as 200"},
		{"204 sent as HTTP 204", 204, json, `{"jsonrpc":"2.0","result":{"status":204,"status_text":"No Content","exception":false,"meta":{}}}`, "HTTP status 204 does not go with code 204, which is sent as 200"},
		{"-32808 sent as 200", 200, json, errorBody, "HTTP status 200 does not go with code -32808, which is sent as 400"},
		{"-32801 sent as 403", 403, json, `{"jsonrpc":"2.0","error":{"code":-32801,"message":"Insufficient permissions","data":{"exception":false,"meta":{}}}}`, "which is sent as 401"},
		{"401 sent as 200", 200, json, `{"jsonrpc":"2.0","error":{"code":401,"message":"Not authenticated","data":{"exception":false,"meta":{}}}}`, "which is sent as 401"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := rpctest.New(sends(c.status, c.ct, c.body))
			for name, call := range map[string]func(tb testing.TB){
				"Call": func(tb testing.TB) { client.Call(tb, "/v1/x", 1) },
				"Post": func(tb testing.TB) { client.Post(tb, "/v1/x", `[1]`) },
				"Do":   func(tb testing.TB) { client.Do(tb, httptest.NewRequest(http.MethodGet, "/v1/x", nil)) },
			} {
				msg := fatal(t, call)
				require.NotEmpty(t, msg, "%s must fail on %s", name, c.body)
				assert.Contains(t, msg, c.want, name)
				assert.Contains(t, msg, "/v1/x", "%s names the method", name)
				assert.Contains(t, msg, fmt.Sprintf("(HTTP %d)", c.status), name)
				assert.Contains(t, msg, c.body, "%s quotes the body", name)
			}
			res := httptest.NewRecorder()
			sends(c.status, c.ct, c.body).ServeHTTP(res, httptest.NewRequest(http.MethodPost, "/v1/x", nil))
			a, err := rpctest.ReadAnswer(res.Result())
			assert.Nil(t, a)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Contains(t, err.Error(), c.body)
		})
	}
}

// TestWellFormed answers envelopes that keep the rules, including their
// corners (a 204 sent as 200, an internal error, an id, no data).
func TestWellFormed(t *testing.T) {
	t.Parallel()
	t.Run("result", func(t *testing.T) {
		a := rpctest.New(sends(200, "application/json", okBody)).Call(t, "/v1/x")
		assert.False(t, a.Err())
		assert.Equal(t, 200, a.HTTP)
		assert.Equal(t, 200, a.Code)
		assert.Equal(t, "OK", a.StatusText)
		assert.Empty(t, a.Message)
		assert.JSONEq(t, `{"a":1}`, string(a.Data))
		assert.Equal(t, map[string]any{"total": float64(3)}, a.Meta)
		assert.False(t, a.Exception)
		assert.Nil(t, a.ID)
		assert.Equal(t, okBody, a.Raw)
		assert.Equal(t, "application/json", a.Header.Get("Content-Type"))
		var v struct{ A int }
		a.Decode(t, &v)
		assert.Equal(t, 1, v.A)
	})
	t.Run("204 without data, with an id", func(t *testing.T) {
		body := `{"jsonrpc":"2.0","id":"x7","result":{"status":204,"status_text":"No Content","exception":false,"meta":{}}}`
		a := rpctest.New(sends(200, "application/json", body)).Call(t, "/v1/x")
		assert.Equal(t, 204, a.Code)
		assert.Nil(t, a.Data)
		assert.NotNil(t, a.Meta)
		assert.Equal(t, `"x7"`, string(a.ID))
	})
	t.Run("error", func(t *testing.T) {
		a := rpctest.New(sends(400, "application/json", errorBody)).Call(t, "/v1/x")
		assert.True(t, a.Err())
		assert.Equal(t, rpc.CodeInvalidParams, a.Code)
		assert.Equal(t, `parameter 1 "x" is required`, a.Message)
		assert.Empty(t, a.StatusText)
		assert.Nil(t, a.Data)
		assert.Equal(t, map[string]any{"k": "v"}, a.Meta)
		assert.False(t, a.Exception)
	})
	t.Run("internal error", func(t *testing.T) {
		body := `{"jsonrpc":"2.0","error":{"code":500,"message":"Internal Server Error","data":{"exception":true,"meta":{}}}}`
		a := rpctest.New(sends(500, "application/json", body)).Call(t, "/v1/x")
		assert.True(t, a.Err())
		assert.True(t, a.Exception)
	})
}

func TestDecodeFails(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		status int
		body   string
		want   string
	}{
		"an error":             {400, errorBody, "the answer is an error (HTTP 400)"},
		"no data":              {200, `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"meta":{}}}`, "the answer has no data (HTTP 200)"},
		"a misfit":             {200, okBody, "decode the data into *[]string"},
		"a string for a slice": {200, `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"data":"s","meta":{}}}`, "decode the data into *[]string"},
	} {
		t.Run(name, func(t *testing.T) {
			a := rpctest.New(sends(c.status, "application/json", c.body)).Call(t, "/v1/x")
			msg := fatal(t, func(tb testing.TB) {
				var v []string
				a.Decode(tb, &v)
			})
			assert.Contains(t, msg, c.want)
			assert.Contains(t, msg, c.body)
		})
	}
}

func TestCallFailsOnParamsItCannotMarshal(t *testing.T) {
	t.Parallel()
	msg := fatal(t, func(tb testing.TB) {
		rpctest.New(sends(200, "application/json", okBody)).Call(tb, "/v1/x", make(chan int))
	})
	assert.Contains(t, msg, "/v1/x: marshal the parameters")
}

// seen is what echo saw of a request.
type seen struct {
	Method, Path, Body, RemoteAddr string
	Header                         http.Header
}

// echo answers every request with what it saw of it, as the result's data.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	data, _ := json.Marshal(seen{r.Method, r.URL.Path, string(b), r.RemoteAddr, r.Header})
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"data":%s,"meta":{}}}`, data)
})

func saw(t *testing.T, a *rpctest.Answer) seen {
	t.Helper()
	var s seen
	a.Decode(t, &s)
	return s
}

func TestRequests(t *testing.T) {
	t.Parallel()
	c := rpctest.New(echo)
	t.Run("Call marshals the positional array", func(t *testing.T) {
		s := saw(t, c.Call(t, "/v1/a/b", "x", 2, map[string]bool{"y": true}, nil))
		assert.Equal(t, http.MethodPost, s.Method)
		assert.Equal(t, "/v1/a/b", s.Path)
		assert.Equal(t, `["x",2,{"y":true},null]`, s.Body)
		assert.Equal(t, "application/json", s.Header.Get("Content-Type"))
		assert.Empty(t, s.Header.Values("Authorization"), "a guest sends no token")
		assert.Equal(t, "192.0.2.1:1234", s.RemoteAddr)
		assert.Equal(t, `[]`, saw(t, c.Call(t, "/v1/a")).Body, "no params are an empty array")
	})
	t.Run("Post sends the body as it is", func(t *testing.T) {
		s := saw(t, c.Post(t, "/", `{"jsonrpc":"2.0","method":"/v1/a","id":1}`))
		assert.Equal(t, `{"jsonrpc":"2.0","method":"/v1/a","id":1}`, s.Body)
		assert.Equal(t, "application/json", s.Header.Get("Content-Type"))
		assert.Empty(t, saw(t, c.Post(t, "/v1/a", "")).Body)
	})
	t.Run("As, With and From make copies", func(t *testing.T) {
		ann := c.As("ses_ann")
		void := ann.With(rpc.HeaderVoidCall, "true").From("198.51.100.4")
		s := saw(t, void.Call(t, "/v1/a"))
		assert.Equal(t, "Bearer ses_ann", s.Header.Get("Authorization"))
		assert.Equal(t, "true", s.Header.Get(rpc.HeaderVoidCall))
		assert.Equal(t, "198.51.100.4:1234", s.RemoteAddr)

		s = saw(t, ann.Call(t, "/v1/a"))
		assert.Equal(t, "Bearer ses_ann", s.Header.Get("Authorization"))
		assert.Empty(t, s.Header.Values(rpc.HeaderVoidCall), "the copy's header stays on the copy")
		assert.Equal(t, "192.0.2.1:1234", s.RemoteAddr)
		assert.Empty(t, saw(t, c.Call(t, "/v1/a")).Header.Values("Authorization"), "the original is still a guest")

		s = saw(t, void.As("").Call(t, "/v1/a"))
		assert.Empty(t, s.Header.Values("Authorization"), `As("") is a guest again`)
		assert.Equal(t, "true", s.Header.Get(rpc.HeaderVoidCall))

		assert.Equal(t, "[2001:db8::1]:1234", saw(t, c.From("2001:db8::1").Call(t, "/v1/a")).RemoteAddr)
		assert.Equal(t, "192.0.2.9:80", saw(t, c.From("192.0.2.9:80").Call(t, "/v1/a")).RemoteAddr)
	})
	t.Run("With replaces the content type and the token", func(t *testing.T) {
		s := saw(t, c.As("ses_ann").With("Content-Type", "text/plain").With("Authorization", "bearer x").Post(t, "/v1/a", "hi"))
		assert.Equal(t, []string{"text/plain"}, s.Header.Values("Content-Type"))
		assert.Equal(t, []string{"bearer x"}, s.Header.Values("Authorization"))
		s = saw(t, c.With("Content-Type", "").Post(t, "/v1/a", "[]"))
		assert.Equal(t, []string{""}, s.Header.Values("Content-Type"), "an empty value is sent empty")
	})
	t.Run("Do sends any request, with the client's headers", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/v1/a", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set("Authorization", "Bearer mine")
		req.RemoteAddr = "10.0.0.1:5555"
		s := saw(t, c.Do(t, req))
		assert.Equal(t, http.MethodGet, s.Method)
		assert.Equal(t, "203.0.113.9", s.Header.Get("X-Forwarded-For"))
		assert.Equal(t, "Bearer mine", s.Header.Get("Authorization"))
		assert.Equal(t, "10.0.0.1:5555", s.RemoteAddr)

		s = saw(t, c.As("ses_ann").From("192.0.2.77").Do(t, req))
		assert.Equal(t, "Bearer ses_ann", s.Header.Get("Authorization"), "the client's token replaces the request's")
		assert.Equal(t, "192.0.2.77:1234", s.RemoteAddr)
		assert.Equal(t, "Bearer mine", req.Header.Get("Authorization"), "the request itself is left as it was")
		assert.Equal(t, "10.0.0.1:5555", req.RemoteAddr)
	})
	t.Run("a Client is safe for concurrent use", func(t *testing.T) {
		ann := c.As("ses_ann").With("X-A", "1")
		seens := make(chan seen)
		for i := range 8 {
			go func() {
				var s seen
				ann.With("X-B", "2").From(fmt.Sprintf("192.0.2.%d", i)).Call(t, "/v1/a").Decode(t, &s)
				seens <- s
			}()
		}
		for range 8 {
			s := <-seens
			assert.Equal(t, "Bearer ses_ann", s.Header.Get("Authorization"))
			assert.Equal(t, "2", s.Header.Get("X-B"))
		}
		assert.Empty(t, saw(t, ann.Call(t, "/v1/a")).Header.Values("X-B"))
	})
}

// TestRegistry calls a real registry: every code of the wire format it
// sends passes the checks.
func TestRegistry(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{})
	token, digest, err := auth.NewToken(auth.KindSession)
	require.NoError(t, err)
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(ctx context.Context, tok string) (*auth.Principal, error) {
		if string(auth.Digest(tok)) == string(digest) {
			return &auth.Principal{UserID: 7, Username: "ann", Kind: auth.KindSession, TokenID: 1}, nil
		}
		return nil, auth.ErrUnknownToken
	}))
	reg.Register(rpc.Method{
		ID: "/v1/code", Title: "Answer a code", Permissions: []string{auth.User},
		Params: []rpc.Param{{Name: "code"}},
		Handler: func(ctx context.Context, code int) (any, error) {
			switch code {
			case 200:
				return rpc.Page([]string{"a"}, 1), nil
			case 204:
				return rpc.NoContent(), nil
			case 500:
				return nil, fmt.Errorf("secret")
			}
			return nil, rpc.Errorf(code, "answered %d", code)
		},
	})
	ann := rpctest.New(reg).As(token)
	for _, code := range []int{200, 204, 400, 401, 403, 404, 409, 429, 500} {
		a := ann.Call(t, "/v1/code", code)
		assert.Equal(t, code, a.Code, a.Raw)
		assert.Equal(t, code >= 400, a.Err(), a.Raw)
	}
	for body, code := range map[string]int{`["x"]`: rpc.CodeInvalidParams, `[`: rpc.CodeParseError} {
		assert.Equal(t, code, ann.Post(t, "/v1/code", body).Code)
	}
	assert.Equal(t, rpc.CodeUnsupportedMediaType, ann.With("Content-Type", "text/plain").Post(t, "/v1/code", "[200]").Code)
	assert.Equal(t, rpc.CodeInsufficientPermissions, ann.As("").Call(t, "/v1/code", 200).Code)
	assert.Equal(t, rpc.CodeMethodNotFound, ann.Call(t, "/v1/nothing").Code)
	big := `["` + strings.Repeat("x", 2<<20) + `"]`
	assert.Equal(t, rpc.CodeTooLarge, ann.Post(t, "/v1/code", big).Code)
	a := ann.Post(t, "/", `{"jsonrpc":"2.0","method":"/v1/code","params":[204],"id":9}`)
	assert.Equal(t, 204, a.Code)
	assert.Equal(t, "9", string(a.ID))

	t.Run("ReadAnswer over a real connection", func(t *testing.T) {
		srv := httptest.NewServer(reg)
		defer srv.Close()
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/code", strings.NewReader(`[200]`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		a, err := rpctest.ReadAnswer(res)
		require.NoError(t, err)
		assert.Equal(t, float64(1), a.Meta["total"])
		a.Decode(t, new([]string))
	})
}
