package calllog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// historyBar is the spec's bound on read-history-stat with 30 days of
// ten-minute buckets for 100 methods.
const historyBar = 50 * time.Millisecond

// historyEnv mounts the call log on PostgreSQL with 100 registered methods
// and 30 days of ten-minute buckets for each (432,000 rows), written
// straight into the table.
func historyEnv(t testing.TB) *env {
	t.Helper()
	if os.Getenv(storagetest.EnvPostgresDSN) == "" {
		t.Skip("TEST_POSTGRES_DSN is not set: the read-history-stat bar is measured on PostgreSQL only; SKIPPED")
	}
	db := storagetest.Postgres(t)
	e := newEnv(t, db, calllog.Options{})
	for i := range 100 {
		e.reg.Register(rpc.Method{ID: fmt.Sprintf("/v1/m/%03d", i), Title: "M", Permissions: []string{auth.Anyone},
			Handler: func(ctx context.Context) error { return nil }})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err := db.ExecContext(ctx, `
INSERT INTO calllog_stat_10m (method_id, date, total_accepted, total_declined, total_errors,
	total_exceptions, runtime_sum_ns, runtime_max_ns)
SELECT '/v1/m/' || lpad(m::text, 3, '0'), d, 100 + m, m % 7, m % 5, m % 3, (100 + m) * 2500000, 90000000
FROM generate_series(0, 99) AS m,
	generate_series(date_bin('10 minutes', now(), timestamptz '2000-01-01') - interval '30 days',
		now(), interval '10 minutes') AS d`)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `ANALYZE calllog_stat_10m`)
	require.NoError(t, err)
	return e
}

// readHistoryOnce calls read-history-stat through the handler and returns
// how long the whole call took.
func readHistoryOnce(t testing.TB, e *env, method string) time.Duration {
	req := httptest.NewRequest(http.MethodPost, readHistory, strings.NewReader(`["`+method+`"]`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.admin)
	rec := httptest.NewRecorder()
	start := time.Now()
	e.reg.ServeHTTP(rec, req)
	took := time.Since(start)
	if rec.Code != http.StatusOK {
		t.Fatalf("read-history-stat: %d %s", rec.Code, rec.Body)
	}
	return took
}

// TestHistoryStatSpeed: read-history-stat answers in under 50 ms (median of
// 21 calls after warm-up) with 30 days of buckets for 100 methods.
func TestHistoryStatSpeed(t *testing.T) {
	e := historyEnv(t)
	var out calllog.MethodStats
	e.ok(t, readHistory, `["/v1/m/042"]`, &out)
	require.Len(t, out.Buckets, 4320)
	full := 0
	for _, b := range out.Buckets {
		if b.TotalAccepted == 142 {
			full++
		}
	}
	require.GreaterOrEqual(t, full, 4319, "the buckets come from the table")
	b := out.Buckets[len(out.Buckets)-1]
	require.Equal(t, calllog.Bucket{Date: b.Date, TotalAccepted: 142, TotalErrors: 2, TotalExceptions: 0,
		AvgRuntime: 2.5, MaxRuntime: 90}, b)
	raw, err := json.Marshal(out)
	require.NoError(t, err)
	t.Logf("answer: %d buckets, %d KiB of JSON data", len(out.Buckets), len(raw)>>10)

	for range 5 {
		readHistoryOnce(t, e, "/v1/m/007")
	}
	times := make([]time.Duration, 21)
	for i := range times {
		times[i] = readHistoryOnce(t, e, fmt.Sprintf("/v1/m/%03d", (i*37)%100))
	}
	slices.Sort(times)
	median := times[len(times)/2]
	t.Logf("read-history-stat: median %s, min %s, max %s (bar %s, race detector %v)",
		median, times[0], times[len(times)-1], historyBar, raceEnabled)
	bar := historyBar
	if raceEnabled {
		// The race detector slows scanning and JSON encoding about tenfold:
		// under it the test only guards against gross regressions (a scan of
		// raw rows, a query per bucket); the bar proper holds without -race.
		bar *= 10
		t.Logf("race detector on: checking %s instead of the bar %s", bar, historyBar)
	}
	require.Less(t, median, bar)
}
