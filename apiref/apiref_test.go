package apiref_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/apiref"
)

func serve(h http.Handler, method, path string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestPage(t *testing.T) {
	t.Parallel()
	h := apiref.New(apiref.Options{OpenAPI: `/x/openapi.json?a=1&b="2"`, Title: `<Greeter> & co`})
	for _, path := range []string{"/docs/", "/docs", "/docs/index.html", "/docs/v1/anything"} {
		w := serve(h, http.MethodGet, path, nil)
		require.Equal(t, 200, w.Code, path)
		assert.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
		assert.Equal(t, apiref.ContentSecurityPolicy, w.Header().Get("Content-Security-Policy"))
		assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
		assert.Equal(t, "DENY", w.Header().Get("X-Frame-Options"))
		body := w.Body.String()
		assert.Contains(t, body, `<meta name="authrpc-openapi" content="/x/openapi.json?a=1&amp;b=&#34;2&#34;">`, "escaped")
		assert.Contains(t, body, `<title>&lt;Greeter&gt; &amp; co</title>`)
		assert.NotContains(t, body, "<script>", "no inline script")
		assert.NotContains(t, body, "<style", "no inline style")
		assert.NotContains(t, body, "http", "nothing from another origin")
	}
	def := serve(apiref.New(apiref.Options{}), http.MethodGet, "/docs/", nil).Body.String()
	assert.Contains(t, def, `content="/api/openapi.json"`)
	assert.Contains(t, def, `<title>API reference</title>`)

	for _, c := range []struct{ name, ctype string }{
		{"swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
		{"swagger-ui.css", "text/css; charset=utf-8"},
		{"init.js", "text/javascript; charset=utf-8"},
		{"page.css", "text/css; charset=utf-8"},
	} {
		plain := serve(h, http.MethodGet, "/docs/"+c.name, nil)
		require.Equal(t, 200, plain.Code, c.name)
		assert.Equal(t, c.ctype, plain.Header().Get("Content-Type"), c.name)
		assert.Empty(t, plain.Header().Get("Content-Encoding"))
		assert.Equal(t, "Accept-Encoding", plain.Header().Get("Vary"))

		zipped := serve(h, http.MethodGet, "/docs/"+c.name, http.Header{"Accept-Encoding": {"br, gzip;q=0.8"}})
		require.Equal(t, 200, zipped.Code)
		assert.Equal(t, "gzip", zipped.Header().Get("Content-Encoding"))
		assert.Equal(t, c.ctype, zipped.Header().Get("Content-Type"))
		zr, err := gzip.NewReader(zipped.Body)
		require.NoError(t, err)
		unzipped, err := io.ReadAll(zr)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(plain.Body.Bytes(), unzipped), c.name)
		if c.name == "swagger-ui-bundle.js" {
			assert.Less(t, zipped.Body.Len(), plain.Body.Len()/3, "the bundle goes gzipped")
		}
		refused := serve(h, http.MethodGet, "/docs/"+c.name, http.Header{"Accept-Encoding": {"gzip;q=0"}})
		assert.Empty(t, refused.Header().Get("Content-Encoding"), "q=0 refuses gzip")
	}
	for _, path := range []string{"/docs/swagger-ui.css.map", "/docs/README.md", "/docs/swagger-ui-bundle.js.LICENSE.txt", "/docs/index.css", "/docs/../apiref.go"} {
		assert.Equal(t, 404, serve(h, http.MethodGet, path, nil).Code, path)
	}
	w := serve(h, http.MethodPost, "/docs/", nil)
	assert.Equal(t, 405, w.Code)
	assert.Equal(t, "GET, HEAD", w.Header().Get("Allow"))
	assert.True(t, strings.HasPrefix(apiref.Version, "5."))
}
