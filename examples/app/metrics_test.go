package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/storage/storagetest"
)

// scrape GETs /metrics and parses it with Prometheus' own text parser.
func (a *testApp) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(strings.TrimSuffix(a.url, "/api") + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, res.Header.Get("Content-Type"), "text/plain")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	require.NoError(t, err)
	return fams
}

// sample returns the value of the counter or gauge name whose labels are
// labels (name=value pairs), 0 when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// /metrics counts by method and outcome exactly the calls made: accepted
// (ok and errors), declined, and calls of paths that name no method under
// one label, whatever the path; the call log's rows, the password hashes
// and the events published are there too.
func TestMetricsCountTheCallsMade(t *testing.T) {
	t.Parallel()
	a := startApp(t, storagetest.SQLiteDSN(t))
	root := a.signin(t, "root", "root-password-for-tests")
	before := a.scrape(t)

	for range 3 {
		require.Equal(t, 200, a.call(t, "", "/v1/test/test", `["hi"]`).HTTP)
	}
	for range 2 {
		require.Equal(t, -32808, a.call(t, "", "/v1/test/test", `[1]`).code())
	}
	for range 4 {
		require.Equal(t, -32801, a.call(t, "", "/v1/admin/users/read", `[]`).code())
	}
	require.Equal(t, -32809, a.call(t, "", "/v1/no/such/method-a1b2c3", `[]`).code())
	require.Equal(t, -32809, a.call(t, "", "/v1/another/random/path", `[]`).code())
	require.Equal(t, 200, a.call(t, root, "/v1/test/publish", `["news", ["*"]]`).HTTP)

	type series struct{ method, outcome string }
	want := map[series]float64{
		{"/v1/test/test", "ok"}:              3,
		{"/v1/test/test", "error"}:           2,
		{"/v1/test/test", "exception"}:       0,
		{"/v1/test/test", "declined"}:        0,
		{"/v1/admin/users/read", "ok"}:       0,
		{"/v1/admin/users/read", "error"}:    0,
		{"/v1/admin/users/read", "declined"}: 4,
		{"unknown", "error"}:                 2,
		{"/v1/test/publish", "ok"}:           1,
	}
	var after map[string]*dto.MetricFamily
	moved := func() map[series]float64 {
		got := map[series]float64{}
		for s := range want {
			got[s] = sample(after, "authrpc_calls_total", "method", s.method, "outcome", s.outcome) -
				sample(before, "authrpc_calls_total", "method", s.method, "outcome", s.outcome)
		}
		return got
	}
	// A call is counted once it is answered: the scrape may come first.
	until(t, "the calls counted", func() bool {
		after = a.scrape(t)
		return moved()[series{"/v1/test/publish", "ok"}] == 1
	})
	assert.Equal(t, want, moved())

	assert.Equal(t, 5.0, sample(after, "authrpc_call_duration_seconds", "method", "/v1/test/test")-
		sample(before, "authrpc_call_duration_seconds", "method", "/v1/test/test"), "accepted calls are timed")
	assert.Equal(t, 1.0, sample(after, "authrpc_events_published_total")-sample(before, "authrpc_events_published_total"))
	assert.Equal(t, 1.0, sample(after, "authrpc_sync_listening"))
	assert.GreaterOrEqual(t, sample(after, "authrpc_calls_in_flight"), 0.0)
	for _, name := range []string{"authrpc_call_log_queued", "authrpc_call_log_written_total", "authrpc_call_log_dropped_total",
		"authrpc_password_hashes_running", "authrpc_password_hashes_waiting", "authrpc_websocket_sockets",
		"authrpc_events_delivered_total", "authrpc_refusals_total", "authrpc_calls_rate_limited_total", "go_goroutines"} {
		assert.Contains(t, after, name)
	}
	until(t, "the call log's rows written", func() bool {
		return sample(a.scrape(t), "authrpc_call_log_written_total") > sample(before, "authrpc_call_log_written_total")
	})

	// No label names a path that is no method, a user or a token.
	for name, f := range after {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				v := l.GetValue()
				assert.NotContains(t, v, "random", "%s{%s}", name, l.GetName())
				assert.NotContains(t, v, "a1b2c3", "%s{%s}", name, l.GetName())
				assert.NotContains(t, v, root, "%s{%s}", name, l.GetName())
				if l.GetName() == "method" {
					assert.True(t, v == "unknown" || strings.HasPrefix(v, "/"), "%s{method=%q}", name, v)
				}
			}
		}
	}
}

// -metrics=false serves no /metrics: the path is then the API's, which
// answers it as no method.
func TestMetricsOff(t *testing.T) {
	t.Parallel()
	a := startApp(t, storagetest.SQLiteDSN(t), func(c *config) { c.NoMetrics = true })
	res, err := http.Get(strings.TrimSuffix(a.url, "/api") + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, 404, res.StatusCode, fmt.Sprint(res.Header))
}
