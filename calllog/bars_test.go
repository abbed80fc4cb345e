package calllog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// historyEnv mounts the call log with methods registered methods, named
// /v1/m/000 on, and 30 days of ten-minute buckets for each (432,000 rows
// for 100), written straight into the table.
func historyEnv(t testing.TB, db *bun.DB, methods int) *env {
	fill := `
INSERT INTO calllog_stat_10m (method_id, date, total_accepted, total_declined, total_errors,
	total_exceptions, runtime_sum_ns, runtime_max_ns)
SELECT '/v1/m/' || lpad(m::text, 3, '0'), d, 100 + m, m % 7, m % 5, m % 3, (100 + m) * 2500000, 90000000
FROM generate_series(0, ?) AS m,
	generate_series(date_bin('10 minutes', now(), timestamptz '2000-01-01') - interval '30 days',
		now(), interval '10 minutes') AS d;
ANALYZE calllog_stat_10m`
	if !storage.IsPostgres(db) {
		// Dates as bun writes them to SQLite: "2006-01-02 15:04:05+00:00".
		fill = `
WITH RECURSIVE m (m) AS (SELECT 0 UNION ALL SELECT m + 1 FROM m WHERE m < ?),
	d (d) AS (SELECT (unixepoch() / 600) * 600 - 30 * 86400 UNION ALL SELECT d + 600 FROM d WHERE d + 600 <= unixepoch())
INSERT INTO calllog_stat_10m (method_id, date, total_accepted, total_declined, total_errors,
	total_exceptions, runtime_sum_ns, runtime_max_ns)
SELECT '/v1/m/' || printf('%03d', m), datetime(d, 'unixepoch') || '+00:00', 100 + m, m % 7, m % 5, m % 3,
	(100 + m) * 2500000, 90000000
FROM m, d;
ANALYZE`
	}
	return statsEnv(t, db, methods, fill)
}

// statsEnv mounts the call log with methods registered methods, named
// /v1/m/000 on, and runs fill, which stores their buckets, with the number
// of the last method as its argument.
func statsEnv(t testing.TB, db *bun.DB, methods int, fill string) *env {
	t.Helper()
	e := newEnv(t, db, calllog.Options{})
	for i := range methods {
		e.reg.Register(rpc.Method{ID: fmt.Sprintf("/v1/m/%03d", i), Title: "M", Permissions: []string{auth.Anyone},
			Handler: func(ctx context.Context) error { return nil }})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err := db.ExecContext(ctx, fill, methods-1)
	require.NoError(t, err)
	return e
}

// TestHistoryStat reads 30 days of buckets of one method out of many: all
// 4,320 are there with the stored values, and the query reads that
// method's window alone, through the primary key, however many other rows
// the table holds. On PostgreSQL, with 100 methods, the rows the plan's
// scans actually read are counted; on SQLite, with 10 (filling the table
// is slow there, under the race detector most), the plan must search the
// key and never scan. How long the call takes is BenchmarkReadHistoryStat's.
func TestHistoryStat(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		methods := 100
		if !storage.IsPostgres(db) {
			methods = 10
		}
		e := historyEnv(t, db, methods)
		var out calllog.MethodStats
		e.ok(t, readHistory, `["/v1/m/007"]`, &out)
		require.Len(t, out.Buckets, calllog.HistoryBuckets)
		full := 0
		for _, b := range out.Buckets {
			if b.TotalAccepted == 107 {
				full++
			}
		}
		require.GreaterOrEqual(t, full, calllog.HistoryBuckets-1, "the buckets come from the table")
		b := out.Buckets[len(out.Buckets)-1]
		require.Equal(t, calllog.Bucket{Date: b.Date, TotalAccepted: 107, TotalErrors: 2, TotalExceptions: 1,
			ExceptionsPercent: float64(1) / 107 * 100, AvgRuntime: 2.5, MaxRuntime: 90}, b)

		query := e.mod.HistoryStatQuery("/v1/m/007")
		if storage.IsPostgres(db) {
			read := pgRowsRead(t, db, query, "calllog_stat_10m")
			t.Logf("rows read: %d", read)
			assert.LessOrEqual(t, read, calllog.HistoryBuckets+1, "rows read for one method's window, of %d stored", methods*calllog.HistoryBuckets)
			assert.Positive(t, read)
			return
		}
		plan := sqlitePlan(t, db, query)
		assert.Contains(t, plan, "SEARCH")
		assert.Contains(t, plan, "USING INDEX sqlite_autoindex_calllog_stat_10m_1 (method_id=? AND date>? AND date<?)")
		assert.NotContains(t, plan, "SCAN")
	})
}

// pgRowsRead runs query under EXPLAIN ANALYZE and counts the rows its scans
// of table read: those they returned and those their filters removed. It
// fails the test when a scan reads the whole table.
func pgRowsRead(t *testing.T, db *bun.DB, query, table string) int {
	t.Helper()
	var raw []byte
	require.NoError(t, db.QueryRowContext(t.Context(), "EXPLAIN (ANALYZE, FORMAT JSON) "+query).Scan(&raw))
	var plans []struct{ Plan planNode }
	require.NoError(t, json.Unmarshal(raw, &plans), "%s", raw)
	read := 0
	var walk func(n planNode)
	walk = func(n planNode) {
		if n.Relation == table {
			require.NotEqual(t, "Seq Scan", n.Type, "plan: %s", raw)
			read += int(n.ActualRows*n.Loops) + int(n.RemovedByFilter+n.RemovedByRecheck)
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(plans[0].Plan)
	return read
}

type planNode struct {
	Type             string     `json:"Node Type"`
	Relation         string     `json:"Relation Name"`
	ActualRows       float64    `json:"Actual Rows"`
	Loops            float64    `json:"Actual Loops"`
	RemovedByFilter  float64    `json:"Rows Removed by Filter"`
	RemovedByRecheck float64    `json:"Rows Removed by Index Recheck"`
	Plans            []planNode `json:"Plans"`
}

// sqlitePlan is SQLite's EXPLAIN QUERY PLAN of query, a line per step.
func sqlitePlan(t *testing.T, db *bun.DB, query string) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query)
	require.NoError(t, err)
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		lines = append(lines, detail)
	}
	require.NoError(t, rows.Err())
	return strings.Join(lines, "\n")
}
