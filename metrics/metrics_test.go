package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/metrics"
	"github.com/authrpc/authrpc/rpc"
)

// newRegistry has a method of each outcome: ok, error (its own 400, or a
// parameter refused), exception (a panic), declined (root only), and one
// limited to one call.
func newRegistry(t *testing.T) *rpc.Registry {
	t.Helper()
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	reg.Register(rpc.Method{ID: "/v1/ok", Title: "OK", Permissions: []string{auth.Anyone},
		Params:  []rpc.Param{{Name: "n?"}},
		Handler: func(ctx context.Context, n *int) (int, error) { return 1, nil }})
	reg.Register(rpc.Method{ID: "/v1/bad", Title: "Bad", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) error { return rpc.BadRequest("no") }})
	reg.Register(rpc.Method{ID: "/v1/panic", Title: "Panic", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) error { panic("boom") }})
	reg.Register(rpc.Method{ID: "/v1/fail", Title: "Fail", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) error { return errors.New("database gone") }})
	reg.Register(rpc.Method{ID: "/v1/root", Title: "Root", Permissions: []string{auth.Root},
		Handler: func(ctx context.Context) error { return nil }})
	reg.Register(rpc.Method{ID: "/v1/once", Title: "Once", Permissions: []string{auth.Anyone},
		RateLimit: &rpc.RateLimit{PerSecond: 1e-9, Burst: 1},
		Handler:   func(ctx context.Context) error { return nil }})
	return reg
}

func post(t *testing.T, url, body string) int {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, 200, rec.Code)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	require.NoError(t, err)
	return fams
}

// value is the value of the series of name with exactly these labels.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "no metric %s", name)
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		if len(have) != len(labels) {
			continue
		}
		same := true
		for k, v := range labels {
			same = same && have[k] == v
		}
		if !same {
			continue
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
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func calls(method, outcome string) map[string]string {
	return map[string]string{"method": method, "outcome": outcome}
}

func TestCallsByMethodAndOutcome(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t)
	m, err := metrics.New(reg, metrics.Options{})
	require.NoError(t, err)
	srv := httptest.NewServer(reg)
	defer srv.Close()

	fams := scrape(t, m.Handler())
	assert.Equal(t, 0.0, value(t, fams, "authrpc_calls_total", calls("/v1/ok", "ok")), "registered methods start at zero")

	assert.Equal(t, 200, post(t, srv.URL+"/v1/ok", `[]`))
	assert.Equal(t, 200, post(t, srv.URL+"/v1/ok", `[2]`))
	assert.Equal(t, 400, post(t, srv.URL+"/v1/ok", `["x"]`))
	assert.Equal(t, 400, post(t, srv.URL+"/v1/bad", `[]`))
	assert.Equal(t, 500, post(t, srv.URL+"/v1/panic", `[]`))
	assert.Equal(t, 500, post(t, srv.URL+"/v1/fail", `[]`))
	assert.Equal(t, 401, post(t, srv.URL+"/v1/root", `[]`))
	assert.Equal(t, 200, post(t, srv.URL+"/v1/once", `[]`))
	assert.Equal(t, 429, post(t, srv.URL+"/v1/once", `[]`))
	assert.Equal(t, 404, post(t, srv.URL+"/v1/nothing-here", `[]`))
	assert.Equal(t, 404, post(t, srv.URL+"/etc/passwd", `[]`))
	assert.Equal(t, 200, post(t, srv.URL+"/ping", `[]`))

	// Over a WebSocket, with and without an id (a void call).
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", &websocket.DialOptions{Subprotocols: []string{rpc.Subprotocol}})
	require.NoError(t, err)
	defer c.CloseNow()
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","method":"/v1/ok","params":[],"id":1}`)))
	_, _, err = c.Read(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","method":"/v1/bad","params":[],"id":2}`)))
	_, _, err = c.Read(ctx)
	require.NoError(t, err)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","method":"/v1/nope","id":3}`)))
	_, _, err = c.Read(ctx)
	require.NoError(t, err)

	fams = scrape(t, m.Handler())
	for _, c := range []struct {
		method, outcome string
		want            float64
	}{
		{"/v1/ok", "ok", 3}, {"/v1/ok", "error", 1}, {"/v1/ok", "exception", 0}, {"/v1/ok", "declined", 0},
		{"/v1/bad", "error", 2}, {"/v1/panic", "exception", 1}, {"/v1/fail", "exception", 1},
		{"/v1/root", "declined", 1}, {"/v1/root", "ok", 0},
		{"/v1/once", "ok", 1}, {"/v1/once", "declined", 1},
		{"unknown", "error", 3}, {"/ping", "ok", 1},
	} {
		assert.Equal(t, c.want, value(t, fams, "authrpc_calls_total", calls(c.method, c.outcome)), "%s %s", c.method, c.outcome)
	}
	assert.Equal(t, 1.0, value(t, fams, "authrpc_calls_rate_limited_total", map[string]string{"method": "/v1/once"}))
	assert.Equal(t, 0.0, value(t, fams, "authrpc_calls_rate_limited_total", map[string]string{"method": "/v1/ok"}))
	assert.Equal(t, 4.0, value(t, fams, "authrpc_call_duration_seconds", map[string]string{"method": "/v1/ok"}), "accepted calls are timed")
	assert.Equal(t, 1.0, value(t, fams, "authrpc_call_duration_seconds", map[string]string{"method": "/v1/once"}), "declined ones are not")
	assert.Equal(t, 1.0, value(t, fams, "authrpc_websocket_sockets", nil))
	assert.Equal(t, 0.0, value(t, fams, "authrpc_calls_in_flight", nil))
	for _, f := range fams {
		for _, s := range f.Metric {
			for _, l := range s.Label {
				assert.NotContains(t, l.GetValue(), "passwd")
				assert.NotContains(t, l.GetValue(), "nothing-here")
			}
		}
	}
}

// Calls in flight are counted until they are answered.
func TestCallsInFlight(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t)
	entered, release := make(chan struct{}), make(chan struct{})
	reg.Register(rpc.Method{ID: "/v1/wait", Title: "Wait", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) error { entered <- struct{}{}; <-release; return nil }})
	m, err := metrics.New(reg, metrics.Options{})
	require.NoError(t, err)
	srv := httptest.NewServer(reg)
	defer srv.Close()
	done := make(chan int)
	go func() { done <- post(t, srv.URL+"/v1/wait", `[]`) }()
	<-entered
	assert.Equal(t, 1.0, value(t, scrape(t, m.Handler()), "authrpc_calls_in_flight", nil))
	close(release)
	assert.Equal(t, 200, <-done)
	assert.Equal(t, 0.0, value(t, scrape(t, m.Handler()), "authrpc_calls_in_flight", nil))
	assert.Equal(t, 1.0, value(t, scrape(t, m.Handler()), "authrpc_calls_total", calls("/v1/wait", "ok")),
		"a method registered after New gets its series at its first call")
}

// Events published and delivered, refusals, and the sources of Options.
func TestStateMetrics(t *testing.T) {
	t.Parallel()
	reg := newRegistry(t)
	hasher := auth.NewHasher(auth.HasherOptions{})
	listening := &flag{on: true}
	m, err := metrics.New(reg, metrics.Options{
		Namespace: "svc",
		CallLog:   func() metrics.CallLogStats { return metrics.CallLogStats{Queued: 3, Written: 40, Dropped: 2} },
		Hasher:    hasher,
		Sync:      listening,
	})
	require.NoError(t, err)
	srv := httptest.NewServer(reg)
	defer srv.Close()
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", &websocket.DialOptions{Subprotocols: []string{rpc.Subprotocol}})
	require.NoError(t, err)
	defer c.CloseNow()
	// A call answered shows the socket joined the hub.
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","method":"/ping","id":1}`)))
	_, _, err = c.Read(ctx)
	require.NoError(t, err)
	require.NoError(t, reg.Publish(ctx, "news", []string{rpc.GroupAll}, 1))
	_, _, err = c.Read(ctx)
	require.NoError(t, err)

	fams := scrape(t, m.Handler())
	for name, want := range map[string]float64{
		"svc_events_published_total": 1, "svc_events_delivered_total": 1, "svc_events_received_total": 0,
		"svc_websocket_sockets": 1, "svc_call_log_queued": 3, "svc_call_log_written_total": 40, "svc_call_log_dropped_total": 2,
		"svc_password_hashes_running": 0, "svc_password_hashes_waiting": 0, "svc_sync_listening": 1,
	} {
		assert.Equal(t, want, value(t, fams, name, nil), name)
	}
	for _, bound := range []string{"subscriptions", "sockets", "event_queue"} {
		assert.Equal(t, 0.0, value(t, fams, "svc_refusals_total", map[string]string{"bound": bound}), bound)
	}
	listening.on = false
	assert.Equal(t, 0.0, value(t, scrape(t, m.Handler()), "svc_sync_listening", nil))
}

type flag struct{ on bool }

func (f *flag) Listening() bool { return f.on }

// A host's own Prometheus registry gets the metrics, and no Go or process
// collectors it may have already; the same names twice are an error.
func TestOwnRegistry(t *testing.T) {
	t.Parallel()
	preg := prometheus.NewRegistry()
	_, err := metrics.New(newRegistry(t), metrics.Options{Registry: preg})
	require.NoError(t, err)
	fams, err := preg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		assert.True(t, strings.HasPrefix(f.GetName(), "authrpc_"), f.GetName())
	}
	_, err = metrics.New(newRegistry(t), metrics.Options{Registry: preg})
	assert.Error(t, err)
}
