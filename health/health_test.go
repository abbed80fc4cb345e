package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/health"
	"github.com/authrpc/authrpc/internal/logbuf"
)

// answer is a health handler's answer.
type answer struct {
	Code   int
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Raw    string
}

func get(t *testing.T, h http.Handler) answer {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	a := answer{Code: w.Code, Raw: w.Body.String()}
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &a), a.Raw)
	return a
}

// failing names the checks of a that did not pass.
func (a answer) failing() []string {
	var out []string
	for name, s := range a.Checks {
		if s != health.StatusOK {
			out = append(out, name)
		}
	}
	return out
}

func TestLiveness(t *testing.T) {
	t.Parallel()
	a := get(t, health.Liveness())
	assert.Equal(t, 200, a.Code)
	assert.Equal(t, "ok", a.Status)

	w := httptest.NewRecorder()
	health.Liveness().ServeHTTP(w, httptest.NewRequest(http.MethodHead, "/healthz", nil))
	assert.Equal(t, 200, w.Code)
	assert.Empty(t, w.Body.String(), "HEAD answers no body")

	w = httptest.NewRecorder()
	health.Liveness().ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/healthz", nil))
	assert.Equal(t, 405, w.Code)
	assert.Equal(t, "GET, HEAD", w.Header().Get("Allow"))
}

func TestReadinessNamesFailingChecks(t *testing.T) {
	t.Parallel()
	var dbDown atomic.Bool
	secret := errors.New(`dial tcp 10.0.0.5:5432: password authentication failed for user "app"`)
	logs := new(logbuf.Buffer)
	r := health.NewReadiness(health.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))},
		health.Check{Name: "database", Func: func(context.Context) error {
			if dbDown.Load() {
				return secret
			}
			return nil
		}},
		health.Check{Name: "other", Func: func(context.Context) error { return nil }},
	)
	a := get(t, r)
	assert.Equal(t, 200, a.Code, a.Raw)
	assert.Equal(t, answer{Code: 200, Status: "ready", Checks: map[string]string{"database": "ok", "other": "ok"}, Raw: a.Raw}, a)
	assert.JSONEq(t, `{"status":"ready","checks":{"database":"ok","other":"ok"}}`, a.Raw)

	dbDown.Store(true)
	a = get(t, r)
	assert.Equal(t, 503, a.Code)
	assert.Equal(t, "unavailable", a.Status)
	assert.Equal(t, []string{"database"}, a.failing())
	assert.NotContains(t, a.Raw, "10.0.0.5", "the error is logged, not answered")
	assert.NotContains(t, a.Raw, "password")
	assert.Equal(t, 503, get(t, r).Code)
	assert.Equal(t, 1, strings.Count(logs.String(), "health: check failing"), "logged when it began to fail, once: %s", logs)
	assert.Contains(t, logs.String(), "10.0.0.5", "the log has the error")

	dbDown.Store(false)
	assert.Equal(t, 200, get(t, r).Code, "recovers with the check")
	assert.Contains(t, logs.String(), `msg="health: check passing again" check=database`)
}

func TestReadinessTimeout(t *testing.T) {
	t.Parallel()
	r := health.NewReadiness(health.Options{Timeout: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
		health.Check{Name: "slow", Func: func(ctx context.Context) error {
			<-ctx.Done() // a ping to a server that does not answer
			return ctx.Err()
		}},
		health.Check{Name: "deaf", Func: func(ctx context.Context) error {
			select {} // ignores its context: the answer does not wait for it
		}},
		health.Check{Name: "panics", Func: func(ctx context.Context) error { panic("bug") }},
	)
	a := get(t, r)
	assert.Equal(t, 503, a.Code)
	assert.Equal(t, map[string]string{"slow": "timeout", "deaf": "timeout", "panics": "failed"}, a.Checks)
}

// Requests that arrive while the checks run share the run.
func TestReadinessSharesARun(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	r := health.NewReadiness(health.Options{Timeout: time.Minute},
		health.Check{Name: "db", Func: func(ctx context.Context) error {
			if runs.Add(1) == 1 {
				close(started)
				<-release
			}
			return nil
		}})
	first := make(chan health.Report)
	go func() { first <- r.Run(context.Background()) }()
	<-started
	// A second asker that gives up at once: it joined the run in progress
	// (a run of its own would have called the check again).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := r.Run(ctx)
	assert.False(t, rep.Ready())
	assert.Equal(t, health.StatusTimeout, rep.Results[0].Status)
	close(release)
	assert.True(t, (<-first).Ready())
	assert.Equal(t, int32(1), runs.Load())
	assert.True(t, r.Run(context.Background()).Ready())
	assert.Equal(t, int32(2), runs.Load(), "a run after the last one ended runs the checks again")
}
