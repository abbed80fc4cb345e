package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/storage/storagetest"
)

// The example app serves its OpenAPI document at /api/openapi.json, the
// same as the openapi command prints.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	a := startApp(t, storagetest.SQLiteDSN(t))
	res, err := http.Get(a.url + "/openapi.json")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	assert.Len(t, doc.Paths, len(a.reg.Methods()), "every method")

	res, err = http.Get(strings.TrimSuffix(a.url, "/api") + "/docs")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, "/docs/", res.Request.URL.Path, "/docs redirects to the page")
	assert.Equal(t, 200, res.StatusCode)
}

// The reference page at /docs/ draws every method of the document with no
// CSP violation, no error, and no request to another origin.
func TestAPIReferenceInBrowser(t *testing.T) {
	b := newBrowser(t)
	a := startApp(t, storagetest.SQLiteDSN(t))
	origin := strings.TrimSuffix(a.url, "/api")

	tab := b.tab(t, nil)
	var (
		mu       sync.Mutex
		requests []string
	)
	chromedp.ListenTarget(tab, func(ev any) {
		if ev, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, ev.Request.URL)
			mu.Unlock()
		}
	})
	// Installed before the page's scripts run, and not subject to its CSP.
	const cspWatch = `window.__csp = []; document.addEventListener('securitypolicyviolation',
		(e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`
	browse(t, tab, 10*time.Second, network.Enable(), chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(cspWatch).Do(ctx)
		return err
	}))

	var paths []string
	browse(t, tab, 60*time.Second,
		chromedp.Navigate(origin+"/docs/"),
		waitJS(`document.querySelectorAll('.opblock').length > 0`),
		chromedp.Evaluate(`[...document.querySelectorAll('.opblock-summary-path')].map((e) => e.getAttribute('data-path'))`, &paths),
	)
	var want []string
	for _, m := range a.reg.Methods() {
		want = append(want, m.ID)
	}
	slices.Sort(want)
	slices.Sort(paths)
	assert.Equal(t, want, paths, "the page draws every method of the document")

	// Open one method: its parameters and permissions are drawn.
	var text string
	browse(t, tab, 20*time.Second,
		chromedp.Click(`.opblock-summary-path[data-path="/v1/admin/users/read"]`),
		chromedp.WaitVisible(`.opblock.is-open .opblock-description-wrapper`),
		chromedp.Text(`.opblock.is-open`, &text),
	)
	assert.Contains(t, text, "admin", "the permission the method needs")

	var violations []string
	browse(t, tab, 5*time.Second, chromedp.Evaluate(`window.__csp`, &violations))
	assert.Empty(t, violations, "CSP violations")
	assert.Empty(t, b.errors(), "the browser reported errors")
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, requests)
	for _, r := range requests {
		u, err := url.Parse(r)
		require.NoError(t, err)
		if u.Scheme == "data" || u.Scheme == "blob" {
			continue
		}
		assert.Equal(t, origin, u.Scheme+"://"+u.Host, "a request to another origin: %s", r)
	}
	assert.Contains(t, requests, a.url+"/openapi.json")
}
