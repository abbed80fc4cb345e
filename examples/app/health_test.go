package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/internal/tcpproxy"
	"github.com/authrpc/authrpc/pubsub/natspubsub/natstest"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// probeAnswer is what /healthz or /readyz answered.
type probeAnswer struct {
	code   int
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	raw    string
}

// probe GETs a path beside /api/.
func (a *testApp) probe(t *testing.T, path string) probeAnswer {
	t.Helper()
	res, err := http.Get(strings.TrimSuffix(a.url, "/api") + path)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	p := probeAnswer{code: res.StatusCode, raw: string(b)}
	require.Equal(t, "application/json", res.Header.Get("Content-Type"), p.raw)
	require.NoError(t, json.Unmarshal(b, &p), p.raw)
	return p
}

// waitReady polls /readyz until it answers with exactly the failing checks
// named (none: 200).
func (a *testApp) waitReady(t *testing.T, failing ...string) probeAnswer {
	t.Helper()
	want := map[string]bool{}
	for _, f := range failing {
		want[f] = true
	}
	var p probeAnswer
	require.Eventually(t, func() bool {
		p = a.probe(t, "/readyz")
		for name, s := range p.Checks {
			if (s != "ok") != want[name] {
				return false
			}
		}
		return len(p.Checks) == 4
	}, 30*time.Second, 50*time.Millisecond, "want failing %v; last answer %s", failing, p.raw)
	if len(failing) == 0 {
		assert.Equal(t, 200, p.code, p.raw)
	} else {
		assert.Equal(t, 503, p.code, p.raw)
	}
	return p
}

// The example app serves liveness at /healthz and readiness at /readyz,
// beside /api/ and /admin/.
func TestHealthEndpoints(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		live := a.probe(t, "/healthz")
		assert.Equal(t, 200, live.code)
		assert.Equal(t, "ok", live.Status)
		ready := a.probe(t, "/readyz")
		assert.Equal(t, 200, ready.code, ready.raw)
		assert.Equal(t, "ready", ready.Status)
		assert.Equal(t, map[string]string{"database": "ok", "migrations": "ok", "channel": "ok", "call_log": "ok"}, ready.Checks)

		res, err := http.Post(strings.TrimSuffix(a.url, "/api")+"/readyz", "application/json", nil)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, 405, res.StatusCode)
	})
}

// Readiness fails while PostgreSQL is cut off and passes again by itself
// once it is back; liveness passes throughout.
func TestReadinessWhileDatabaseStopped(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(storagetest.PostgresDSN(t))
	require.NoError(t, err)
	p := tcpproxy.New(t, u.Host)
	u.Host = p.Addr()
	a := startApp(t, u.String())
	a.waitReady(t)

	p.Cut()
	a.waitReady(t, "database", "migrations", "channel")
	assert.Equal(t, 200, a.probe(t, "/healthz").code, "alive all the same")
	p.Restore()
	a.waitReady(t)
}

// With -nats, readiness fails while the NATS server is down, naming the
// channel alone, and passes again once it is back.
func TestReadinessWhileNATSStopped(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t, natstest.Options{})
	a := startApp(t, storagetest.SQLiteDSN(t), func(c *config) { c.NATS = ns.URL() })
	a.waitReady(t)

	ns.Stop()
	a.waitReady(t, "channel")
	ns.Start()
	a.waitReady(t)
}
