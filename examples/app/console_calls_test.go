package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// overviewByAPI answers read-overview by method.
func (a *testApp) overviewByAPI(t *testing.T, token string) map[string]calllog.Overview {
	t.Helper()
	r := a.call(t, token, "/v1/admin/api-call-log/read-overview", `[]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	var rows []calllog.Overview
	require.NoError(t, json.Unmarshal(r.Result.Data, &rows))
	out := map[string]calllog.Overview{}
	for _, o := range rows {
		out[o.MethodID] = o
	}
	return out
}

// overviewValues are an overview row's numbers by the console's column keys.
func overviewValues(o calllog.Overview) map[string]float64 {
	return map[string]float64{
		"calls": float64(o.Calls), "ok": float64(o.OK), "errors": float64(o.Errors), "exceptions": float64(o.Exceptions),
		"declined": float64(o.Declined), "avg_runtime": o.AvgRuntime, "p95_runtime": o.P95Runtime, "max_runtime": o.MaxRuntime,
	}
}

// rendered reads the numbers the page shows in the cells selector picks,
// by their data-col: the value each was drawn from, and its text.
func rendered(t *testing.T, tab context.Context, selector string) (map[string]float64, map[string]string) {
	t.Helper()
	var cells []struct{ Col, Value, Text string }
	browse(t, tab, 5*time.Second, chromedp.Evaluate(fmt.Sprintf(`[...document.querySelectorAll(%q)].map((c) =>
		({Col: c.dataset.col, Value: c.dataset.value, Text: c.textContent}))`, selector), &cells))
	values, texts := map[string]float64{}, map[string]string{}
	for _, c := range cells {
		v, err := strconv.ParseFloat(c.Value, 64)
		require.NoError(t, err, "%s: %q", c.Col, c.Value)
		values[c.Col], texts[c.Col] = v, c.Text
	}
	return values, texts
}

// The console's call log opens on the overview of every method, whose
// numbers are read-overview's; a method's page draws its charts with
// legends that add up to its calls, and filters its log.
func TestConsoleCallLog(t *testing.T) {
	b := newBrowser(t)
	a := startApp(t, storagetest.SQLiteDSN(t))
	base := strings.TrimSuffix(a.url, "/api") + "/admin/"
	root := a.signin(t, "root", "root-password-for-tests")
	for i := range 7 {
		require.Equal(t, 200, a.call(t, "", "/v1/test/test", fmt.Sprintf(`["call %d"]`, i)).code())
	}
	require.Equal(t, -32808, a.call(t, root, "/v1/test/test", `[5]`).code())
	for range 2 {
		a.call(t, "", "/v1/admin/users/read", `[]`) // a guest is declined
	}
	// Statistics lag the calls by up to 10 seconds.
	require.Eventually(t, func() bool {
		o := a.overviewByAPI(t, root)
		return o["/v1/test/test"].Calls == 8 && o["/v1/admin/users/read"].Declined == 2
	}, 30*time.Second, 100*time.Millisecond)

	tab := b.tab(t, nil)
	browse(t, tab, 20*time.Second, signInActions(base)...)
	// The console's Users page, where signing in lands, reads the users
	// itself: wait until the statistics count that call too, so that the
	// page and the API below see the same numbers.
	require.Eventually(t, func() bool { return a.overviewByAPI(t, root)["/v1/admin/users/read"].OK >= 1 }, 30*time.Second, 100*time.Millisecond)
	test := `#overview tr[data-method="/v1/test/test"]`
	browse(t, tab, 30*time.Second,
		chromedp.Click(`//nav/a[text()="Call log"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#overview`),
		waitJS(fmt.Sprintf(`document.querySelector('%s td[data-col="calls"]')?.dataset.value === "8"`, test)))
	var hash string
	browse(t, tab, 5*time.Second, chromedp.Evaluate(`location.hash`, &hash))
	assert.Equal(t, "#/calls", hash, "the call log opens on the overview")

	api := a.overviewByAPI(t, root)
	for _, m := range []string{"/v1/test/test", "/v1/admin/users/read"} {
		values, texts := rendered(t, tab, fmt.Sprintf(`#overview tr[data-method=%q] td[data-col]`, m))
		assert.Equal(t, overviewValues(api[m]), values, "%s: the page's numbers are the API's", m)
		for _, col := range []string{"calls", "ok", "errors", "exceptions", "declined"} {
			assert.Equal(t, strconv.FormatFloat(values[col], 'f', -1, 64), texts[col], "%s %s", m, col)
		}
	}
	shots := newShooter(t)
	shots.shot(t, tab, "calls-overview")
	o := api["/v1/test/test"]
	assert.Equal(t, [5]int64{8, 7, 1, 0, 0}, [5]int64{o.Calls, o.OK, o.Errors, o.Exceptions, o.Declined})
	assert.Equal(t, int64(2), api["/v1/admin/users/read"].Declined)

	// A method's page: its numbers, charts whose legends add up, its log.
	browse(t, tab, 30*time.Second,
		chromedp.Click(test+` a`),
		chromedp.WaitVisible(`#latest`),
		waitJS(`Number(document.querySelector('#latest li[data-series="total"]')?.dataset.sum) === 8`),
		waitJS(`document.querySelectorAll('#log tbody tr').length === 8`),
		waitJS(`document.querySelectorAll('#summary dd').length === 8`))
	values, _ := rendered(t, tab, `#summary dd[data-col]`)
	assert.Equal(t, overviewValues(a.overviewByAPI(t, root)["/v1/test/test"]), values, "the method's summary is the API's")
	var legend map[string]float64
	browse(t, tab, 5*time.Second, chromedp.Evaluate(`Object.fromEntries([...document.querySelectorAll('#latest figure:first-child li')]
		.map((li) => [li.dataset.series, Number(li.dataset.sum)]))`, &legend))
	assert.Equal(t, map[string]float64{"total": 8, "ok": 7, "total_errors": 1, "total_declined": 0, "total_exceptions": 0}, legend)
	assert.Equal(t, legend["total"], legend["ok"]+legend["total_errors"]+legend["total_declined"], "the legend adds up")
	// The history chart is read apart from the latest one, and later: wait
	// for its lines before counting.
	const polylines = `document.querySelectorAll('#latest svg polyline, #history svg polyline').length`
	var lines int
	browse(t, tab, 60*time.Second, waitJS(polylines+` >= 12`), chromedp.Evaluate(polylines, &lines))
	assert.Equal(t, 12, lines, "two charts of two spans: four call series and two runtime series")
	shots.shot(t, tab, "calls")

	// Filters: the errors, a user, an address.
	logRows := func(n int) chromedp.Action {
		return waitJS(fmt.Sprintf(`document.querySelectorAll('#log tbody tr').length === %d`, n))
	}
	browse(t, tab, 20*time.Second,
		chromedp.SetValue(`#outcome`, "errors"),
		chromedp.Click(`#filters button[type="submit"]`),
		logRows(1),
		chromedp.SetValue(`#outcome`, "ok"),
		fill("User id", "1"),
		chromedp.Click(`#filters button[type="submit"]`),
		logRows(0),
		fill("User id", "guest"),
		fill("Client address", "127.0.0.1"),
		chromedp.Click(`#filters button[type="submit"]`),
		logRows(7),
		fill("Client address", "not an address"),
		chromedp.Click(`#filters button[type="submit"]`),
		waitJS(`document.getElementById('notice').className === 'error' && document.getElementById('notice').textContent.includes('remote_address')`),
		chromedp.Click(`#filters button[type="reset"]`),
		logRows(8),
	)
	var addr string
	browse(t, tab, 5*time.Second, chromedp.Text(`#log tbody tr td:nth-child(3)`, &addr))
	assert.Equal(t, "127.0.0.1", addr, "the client's address is shown")

	// Back to the overview, and to the declined method.
	browse(t, tab, 30*time.Second,
		chromedp.Click(`//a[text()="← Every method"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#overview tr[data-method="/v1/admin/users/read"] a`),
		chromedp.Click(`#overview tr[data-method="/v1/admin/users/read"] a`),
		waitJS(`Number(document.querySelector('#latest li[data-series="total_declined"]')?.dataset.sum) === 2`),
		chromedp.SetValue(`#outcome`, "declined"),
		chromedp.Click(`#filters button[type="submit"]`),
		logRows(2))
	assert.Empty(t, b.errors(), "the browser reported errors")
}
