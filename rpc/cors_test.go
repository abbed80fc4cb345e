package rpc_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// corsServer serves a registry with one method over a real socket.
func corsServer(t *testing.T, opts *rpc.CORSOptions) *httptest.Server {
	t.Helper()
	reg := rpc.New(rpc.Options{CORS: opts, Prefix: "/api"})
	reg.Register(rpc.Method{ID: "/v1/echo", Permissions: []string{auth.Anyone}, Params: []rpc.Param{{Name: "s"}},
		Handler: func(_ context.Context, s string) (string, error) { return s, nil }})
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	return srv
}

// preflight sends what a browser sends before a cross-origin POST with a
// bearer token and a JSON body.
func preflight(t *testing.T, url, origin, headers string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodOptions, url, nil)
	require.NoError(t, err)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", http.MethodPost)
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	return res, string(body)
}

func corsHeaders(h http.Header) []string {
	var names []string
	for name := range h {
		if strings.HasPrefix(name, "Access-Control-") {
			names = append(names, name)
		}
	}
	return names
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	srv := corsServer(t, &rpc.CORSOptions{AllowedOrigins: []string{"https://app.example.com", "https://*.example.org"}})
	url := srv.URL + "/api/v1/echo"

	for _, origin := range []string{"https://app.example.com", "https://beta.example.org"} {
		res, body := preflight(t, url, origin, "authorization,content-type,x-api-void-call")
		assert.Equal(t, http.StatusNoContent, res.StatusCode, origin)
		assert.Empty(t, body, "a preflight has no body")
		assert.Empty(t, res.Header.Get("Content-Type"), "a preflight has no JSON")
		assert.Equal(t, origin, res.Header.Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "POST", res.Header.Get("Access-Control-Allow-Methods"))
		assert.Equal(t, "authorization,content-type,x-api-void-call", res.Header.Get("Access-Control-Allow-Headers"))
		assert.Equal(t, "600", res.Header.Get("Access-Control-Max-Age"))
		assert.Empty(t, res.Header.Get("Access-Control-Allow-Credentials"))
		assert.Contains(t, res.Header.Get("Vary"), "Origin")
	}

	// Another origin, a look-alike, or a header not allowed: no CORS headers,
	// so the browser refuses to send the call.
	for _, c := range []struct{ origin, headers string }{
		{"https://evil.example.net", "authorization"},
		{"https://app.example.com.evil.net", ""},
		{"http://app.example.com", ""},
		{"null", ""},
		{"https://app.example.com", "x-not-allowed"},
	} {
		res, body := preflight(t, url, c.origin, c.headers)
		assert.Equal(t, http.StatusNoContent, res.StatusCode, c.origin)
		assert.Empty(t, body)
		assert.Empty(t, corsHeaders(res.Header), "%s %s", c.origin, c.headers)
	}
}

func TestCORSCalls(t *testing.T) {
	t.Parallel()
	srv := corsServer(t, &rpc.CORSOptions{AllowedOrigins: []string{"https://app.example.com"}, AllowCredentials: true,
		ExposedHeaders: []string{"X-Request-Id"}, MaxAge: -1})

	call := func(origin string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/echo", strings.NewReader(`["hi"]`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		a, err := rpctest.ReadAnswer(res)
		require.NoError(t, err)
		assert.Equal(t, `"hi"`, string(a.Data), "CORS changes no answer")
		return res
	}
	res := call("https://app.example.com")
	assert.Equal(t, "https://app.example.com", res.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", res.Header.Get("Access-Control-Allow-Credentials"))
	assert.Equal(t, "X-Request-Id", res.Header.Get("Access-Control-Expose-Headers"))
	assert.Empty(t, corsHeaders(call("https://other.example.com").Header), "a disallowed origin got CORS headers")

	res, _ = preflight(t, srv.URL+"/api/v1/echo", "https://app.example.com", "")
	assert.Equal(t, "0", res.Header.Get("Access-Control-Max-Age"), "a negative MaxAge caches nothing")
	assert.Equal(t, "true", res.Header.Get("Access-Control-Allow-Credentials"))
}

func TestCORSOff(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string]*rpc.CORSOptions{"no option": nil, "no origins": {MaxAge: time.Hour}} {
		srv := corsServer(t, opts)
		res, body := preflight(t, srv.URL+"/api/v1/echo", "https://app.example.com", "authorization")
		assert.Empty(t, corsHeaders(res.Header), name)
		if opts == nil {
			// Without the option an OPTIONS request is an HTTP method the
			// registry does not serve.
			assert.Equal(t, http.StatusMethodNotAllowed, res.StatusCode, body)
		}
	}
}
