package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc"
)

// postAt POSTs body to a path of the server (not below /api).
func (a *testApp) postAt(t *testing.T, token, path, body string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(a.url, "/api")+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return a.send(t, req)
}

// TestRequestObjectDoesNotOverridePath: the attack of issue 11, item 4. A
// request object naming users/read runs it only at the mount root.
func TestRequestObjectDoesNotOverridePath(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		root := a.signin(t, "root", "root-password-for-tests")
		read := `{"jsonrpc":"2.0","method":"/v1/admin/users/read","id":1}`
		for _, path := range []string{"/", "/not-api/x", "/api/v1/test/test", "/api/v1/admin/users/delete", "/apix"} {
			r := a.postAt(t, root, path, read)
			assert.Equal(t, -32809, r.code(), "%s: %s", path, r.Raw)
			assert.Nil(t, r.Result, "%s ran users/read", path)
		}
		for _, path := range []string{"/api", "/api/", "/api/v1/admin/users/read"} {
			r := a.postAt(t, root, path, read)
			assert.Equal(t, 200, r.HTTP, "%s: %s", path, r.Raw)
		}
		r := a.postAt(t, root, "/api/", `{"jsonrpc":"2.0","method":"/v1/admin/users/read","id":{"x":1}}`)
		assert.Equal(t, 400, r.HTTP, r.Raw)
	})
}

// TestServerTimeouts: the app's http.Server bounds every phase of a
// request, each past the registry's own deadline for it.
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	srv := newServer(http.NotFoundHandler())
	assert.Positive(t, srv.ReadHeaderTimeout)
	assert.Greater(t, srv.ReadTimeout, srv.ReadHeaderTimeout+rpc.DefaultBodyTimeout)
	assert.Greater(t, srv.WriteTimeout, srv.ReadTimeout)
	assert.Positive(t, srv.IdleTimeout)
	assert.Positive(t, srv.MaxHeaderBytes)
	assert.Less(t, srv.MaxHeaderBytes, http.DefaultMaxHeaderBytes)
}
