package console_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/console"
)

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

func TestEveryResponseCarriesTheSecurityHeaders(t *testing.T) {
	t.Parallel()
	h := console.New(console.Options{})
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/admin/", 200},
		{"GET", "/admin/users", 200},
		{"GET", "/admin/app.js", 200},
		{"HEAD", "/admin/style.css", 200},
		{"GET", "/admin/missing.js", 404},
		{"POST", "/admin/", 405},
	} {
		res, _ := get(t, h, c.method, c.path)
		assert.Equal(t, c.status, res.StatusCode, "%s %s", c.method, c.path)
		assert.Equal(t, console.ContentSecurityPolicy, res.Header.Get("Content-Security-Policy"), "%s %s", c.method, c.path)
		assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
		assert.Equal(t, "DENY", res.Header.Get("X-Frame-Options"))
	}
	assert.True(t, strings.HasPrefix(console.ContentSecurityPolicy, "default-src 'self'; connect-src 'self' ws: wss:;"))
}

func TestThePageNamesTheAPIAndHasNoInlineCode(t *testing.T) {
	t.Parallel()
	h := console.New(console.Options{API: "/rpc/", Title: `Ops <&> "admin"`})
	res, page := get(t, h, "GET", "/")
	assert.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	assert.Contains(t, page, `<meta name="authrpc-api" content="/rpc/">`)
	assert.Contains(t, page, `<meta name="authrpc-admin-permission" content="admin">`, "the default")
	assert.Contains(t, page, `<title>Ops &lt;&amp;&gt; &#34;admin&#34;</title>`, "the title is escaped")
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		assert.Contains(t, tag, ` src=`, "no inline script: %s", tag)
	}
	assert.NotContains(t, page, "<style")
	assert.NotContains(t, page, " style=")
	assert.NotContains(t, page, " on", "no inline event handlers")
}

// The admin pages follow the permission the host's modules require.
func TestAdminPermission(t *testing.T) {
	t.Parallel()
	_, page := get(t, console.New(console.Options{AdminPermission: "staff"}), "GET", "/")
	assert.Contains(t, page, `<meta name="authrpc-admin-permission" content="staff">`)
	_, js := get(t, console.New(console.Options{}), "GET", "/app.js")
	assert.NotContains(t, js, `"admin"`, "no page hard-codes the permission")
	assert.Contains(t, js, `meta[name="authrpc-admin-permission"]`)
}

func TestTheFirstLoadIsUnder200KB(t *testing.T) {
	t.Parallel()
	h := console.New(console.Options{})
	_, page := get(t, h, "GET", "/admin/")
	total := len(page)
	refs := regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(page, -1)
	queue := []string{}
	for _, r := range refs {
		queue = append(queue, r[1])
	}
	imports := regexp.MustCompile(`from "\./([^"]+)"`)
	seen := map[string]bool{}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		res, body := get(t, h, "GET", "/admin/"+name)
		require.Equal(t, 200, res.StatusCode, name)
		total += len(body)
		for _, m := range imports.FindAllStringSubmatch(body, -1) {
			queue = append(queue, m[1])
		}
	}
	assert.Contains(t, seen, "rpc.js", "the modules the page imports are counted")
	assert.Less(t, total, 200<<10, "bytes of the first load, uncompressed")
	t.Logf("first load: %d bytes in %d files", total, len(seen)+1)
}

func TestScriptsAreServedAsJavaScript(t *testing.T) {
	t.Parallel()
	h := console.New(console.Options{})
	res, _ := get(t, h, "GET", "/admin/app.js")
	assert.Equal(t, "text/javascript; charset=utf-8", res.Header.Get("Content-Type"))
	res, _ = get(t, h, "GET", "/admin/style.css")
	assert.Equal(t, "text/css; charset=utf-8", res.Header.Get("Content-Type"))
}
