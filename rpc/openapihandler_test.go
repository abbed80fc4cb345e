package rpc_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

func TestOpenAPIHandler(t *testing.T) {
	t.Parallel()
	reg := newGreeter()
	h := reg.OpenAPIHandler()
	get := func(method string, header http.Header) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/api/openapi.json", nil)
		for k, v := range header {
			req.Header[k] = v
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}

	w := get(http.MethodGet, nil)
	require.Equal(t, 200, w.Code)
	want, err := reg.OpenAPI()
	require.NoError(t, err)
	assert.Equal(t, string(want), w.Body.String())
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
	etag := w.Header().Get("ETag")
	require.NotEmpty(t, etag)

	w = get(http.MethodGet, http.Header{"If-None-Match": {etag}})
	assert.Equal(t, http.StatusNotModified, w.Code, "the client's copy is current")
	assert.Empty(t, w.Body.String())

	w = get(http.MethodHead, nil)
	assert.Equal(t, 200, w.Code)
	assert.Empty(t, w.Body.String())

	w = get(http.MethodPost, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Equal(t, "GET, HEAD", w.Header().Get("Allow"))

	// A method registered later is in the next answer, under a new ETag.
	reg.Register(rpc.Method{ID: "/v1/bye", Title: "Say goodbye", Permissions: []string{auth.Anyone},
		Handler: func(context.Context) error { return nil }})
	w = get(http.MethodGet, http.Header{"If-None-Match": {etag}})
	require.Equal(t, 200, w.Code)
	assert.Contains(t, w.Body.String(), `"/v1/bye"`)
	assert.NotEqual(t, etag, w.Header().Get("ETag"))
}
