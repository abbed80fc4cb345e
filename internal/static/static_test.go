package static_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/internal/static"
)

var files = fstest.MapFS{
	"index.html":    {Data: []byte(`<title>{{.}}</title>`)},
	"app.js":        {Data: []byte(`console.log("app")`)},
	"vendor/lib.js": {Data: []byte(`console.log("lib")`)},
	"secret.txt":    {Data: []byte(`not an asset`)},
}

func serve(h http.Handler, method, path, acceptEncoding string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	const csp = "default-src 'self'"
	h, err := static.New(static.Options{Files: files, Data: "<x>", CSP: csp})
	require.NoError(t, err)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/p/", 200}, {"GET", "/p/deep/page", 200}, {"HEAD", "/p/app.js", 200},
		{"GET", "/p/missing.js", 404}, {"POST", "/p/", 405}, {"DELETE", "/p/app.js", 405},
	} {
		w := serve(h, c.method, c.path, "")
		assert.Equal(t, c.status, w.Code, "%s %s", c.method, c.path)
		assert.Equal(t, csp, w.Header().Get("Content-Security-Policy"), "%s %s", c.method, c.path)
		assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
		assert.Equal(t, "DENY", w.Header().Get("X-Frame-Options"))
		assert.Equal(t, "no-referrer", w.Header().Get("Referrer-Policy"))
		if c.status == 405 {
			assert.Equal(t, "GET, HEAD", w.Header().Get("Allow"))
		} else {
			assert.Equal(t, "no-cache", w.Header().Get("Cache-Control"))
		}
	}
	page := serve(h, "GET", "/p/", "")
	assert.Equal(t, "<title>&lt;x&gt;</title>", page.Body.String(), "executed once, escaped")
	assert.Equal(t, "text/html; charset=utf-8", page.Header().Get("Content-Type"))
	js := serve(h, "GET", "/p/app.js", "gzip")
	assert.Equal(t, `console.log("app")`, js.Body.String())
	assert.Empty(t, js.Header().Get("Content-Encoding"), "no gzip unless asked")
	assert.Empty(t, js.Header().Get("Vary"))
}

func TestNamesAndGzip(t *testing.T) {
	t.Parallel()
	h, err := static.New(static.Options{Files: files, Names: map[string]string{"lib.js": "vendor/lib.js"}, Gzip: true})
	require.NoError(t, err)
	w := serve(h, "GET", "/p/lib.js", "")
	assert.Equal(t, `console.log("lib")`, w.Body.String())
	assert.Equal(t, "Accept-Encoding", w.Header().Get("Vary"))
	assert.Empty(t, w.Header().Get("Content-Security-Policy"), "none set")
	for _, path := range []string{"/p/app.js", "/p/secret.txt", "/p/../secret.txt"} {
		assert.Equal(t, 404, serve(h, "GET", path, "").Code, "only the names listed: %s", path)
	}
	assert.Equal(t, "gzip", serve(h, "GET", "/p/lib.js", "br, gzip;q=0.5").Header().Get("Content-Encoding"))
	assert.Empty(t, serve(h, "GET", "/p/lib.js", "gzip;q=0").Header().Get("Content-Encoding"))
}

func TestNewFailsWithoutAPage(t *testing.T) {
	t.Parallel()
	_, err := static.New(static.Options{Files: fstest.MapFS{"app.js": {}}})
	assert.ErrorContains(t, err, "index.html")
	_, err = static.New(static.Options{Files: fstest.MapFS{"index.html": {Data: []byte(`{{.Missing}}`)}}, Data: struct{}{}})
	assert.ErrorContains(t, err, "index.html")
}
