package calllog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// latestEnv mounts the call log with methods registered methods, named
// /v1/m/000 on, and an hour of minute buckets for each, written straight
// into the table, with runtimes that differ from bucket to bucket (so
// that the averages are numbers of many digits, as real ones are).
func latestEnv(t testing.TB, db *bun.DB, methods int) *env {
	fill := `
INSERT INTO calllog_stat_1m (method_id, date, total_accepted, total_declined, total_errors,
	total_exceptions, runtime_sum_ns, runtime_max_ns)
SELECT '/v1/m/' || lpad(m::text, 3, '0'), d, 100 + m, m % 7, m % 5, m % 3,
	(100 + m) * 2500000 + (extract(epoch from d)::bigint / 60 % 997) * 7919, 90000000 + m
FROM generate_series(0, ?) AS m,
	generate_series(date_trunc('minute', now()) - interval '59 minutes', now(), interval '1 minute') AS d;
ANALYZE calllog_stat_1m`
	if !storage.IsPostgres(db) {
		fill = `
WITH RECURSIVE m (m) AS (SELECT 0 UNION ALL SELECT m + 1 FROM m WHERE m < ?),
	d (d) AS (SELECT (unixepoch() / 60) * 60 - 59 * 60 UNION ALL SELECT d + 60 FROM d WHERE d + 60 <= unixepoch())
INSERT INTO calllog_stat_1m (method_id, date, total_accepted, total_declined, total_errors,
	total_exceptions, runtime_sum_ns, runtime_max_ns)
SELECT '/v1/m/' || printf('%03d', m), datetime(d, 'unixepoch') || '+00:00', 100 + m, m % 7, m % 5, m % 3,
	(100 + m) * 2500000 + (d / 60 % 997) * 7919, 90000000 + m
FROM m, d;
ANALYZE`
	}
	return statsEnv(t, db, methods, fill)
}

// BenchmarkReadLatestStat times read-latest-stat of every method through
// the handler at 10, 100 and 500 methods with an hour of buckets each,
// beside, in the same run, "sql": the handler's own statements (recorded
// as it ran them) through database/sql, every row scanned, and "hand":
// a hand-written handler doing that and encoding the same answer with
// encoding/json from plain structs. answer-bytes is the answer's size.
func BenchmarkReadLatestStat(b *testing.B) {
	for _, c := range []struct {
		name string
		db   func(testing.TB) *bun.DB
	}{{"sqlite", storagetest.SQLite}, {"postgres", storagetest.Postgres}} {
		for _, methods := range []int{10, 100, 500} {
			b.Run(fmt.Sprintf("%s/%d", c.name, methods), func(b *testing.B) {
				db, queries := storagetest.RecordQueries(c.db(b))
				e := latestEnv(b, db, methods)
				benchStatReads(b, e, queries, readLatest, `[]`, handLatest)
			})
		}
	}
}

// BenchmarkReadHistoryStat is BenchmarkReadLatestStat for read-history-stat
// of one method out of 100, each with 30 days of ten-minute buckets: the
// answer holds 4,320 buckets.
func BenchmarkReadHistoryStat(b *testing.B) {
	for _, c := range []struct {
		name string
		db   func(testing.TB) *bun.DB
	}{{"sqlite", storagetest.SQLite}, {"postgres", storagetest.Postgres}} {
		b.Run(c.name, func(b *testing.B) {
			db, queries := storagetest.RecordQueries(c.db(b))
			e := historyEnv(b, db, 100)
			benchStatReads(b, e, queries, readHistory, `["/v1/m/042"]`, handHistory)
		})
	}
}

// benchStatReads runs the three sub-benchmarks of a statistics read: the
// handler, its SQL, and the hand-written handler over that SQL.
func benchStatReads(b *testing.B, e *env, queries *storagetest.Queries, method, params string, hand handStats) {
	before := len(queries.All())
	answer := statCall(b, e, method, params)
	var stmts []string
	for _, q := range queries.All()[before:] {
		// The statistics merge may upsert buckets meanwhile: reads only.
		if strings.HasPrefix(q, "SELECT") && strings.Contains(q, "calllog_stat_") {
			stmts = append(stmts, q)
		}
	}
	require.NotEmpty(b, stmts)
	// The hand-written answer must be the handler's, byte for byte, but for
	// last_updated (the time each was made).
	handAnswer := hand(b, e, stmts, params)
	lastUpdated := func(s string) string {
		return lastUpdatedRE.ReplaceAllString(s, `"last_updated":"-"`)
	}
	if got, want := lastUpdated(answer), lastUpdated(handAnswer); got != want {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		b.Fatalf("the hand-written answer differs at byte %d:\nhandler: %.200s\nhand:    %.200s", i, got[max(i-100, 0):], want[max(i-100, 0):])
	}

	b.Run("handler", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			statCall(b, e, method, params)
		}
		b.ReportMetric(float64(len(answer)), "answer-bytes")
	})
	b.Run("sql", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, q := range stmts {
				scanBuckets(b, e.db, q)
			}
		}
	})
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			hand(b, e, stmts, params)
		}
	})
}

// statCall calls a statistics method as the admin through the handler and
// answers the body.
func statCall(t testing.TB, e *env, method, params string) string {
	req := httptest.NewRequest(http.MethodPost, method, strings.NewReader(params))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.admin)
	rec := httptest.NewRecorder()
	e.reg.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: %d %s", method, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// storedBucket is a row of a bucket table as the hand-written handler scans it.
type storedBucket struct {
	method                                 string
	date                                   time.Time
	accepted, declined, errors, exceptions int64
	runtimeSum, runtimeMax                 int64
}

// scanBuckets runs q through database/sql and scans every row.
func scanBuckets(t testing.TB, db *bun.DB, q string) []storedBucket {
	rows, err := db.DB.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []storedBucket
	for rows.Next() {
		var s storedBucket
		var date any
		if err := rows.Scan(&s.method, &date, &s.accepted, &s.declined, &s.errors, &s.exceptions, &s.runtimeSum, &s.runtimeMax); err != nil {
			t.Fatal(err)
		}
		s.date = anyTime(t, date)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// anyTime reads a date as a driver gives it: a time, Unix seconds, or text.
func anyTime(t testing.TB, v any) time.Time {
	switch v := v.(type) {
	case time.Time:
		return v.UTC()
	case int64:
		return time.Unix(v, 0).UTC()
	case string:
		d, err := time.Parse("2006-01-02 15:04:05-07:00", v)
		if err != nil {
			t.Fatal(err)
		}
		return d.UTC()
	}
	t.Fatalf("a date as %T", v)
	return time.Time{}
}

// handStats is a hand-written statistics handler: it runs stmts and answers
// the envelope, as the handler does for params.
type handStats func(t testing.TB, e *env, stmts []string, params string) string

// handLatest is read-latest-stat of every method written by hand.
func handLatest(t testing.TB, e *env, stmts []string, _ string) string {
	var ids []string
	for _, info := range e.reg.Methods() {
		if info.CallLog {
			ids = append(ids, info.ID)
		}
	}
	list := handBuckets(t, e, stmts, ids, time.Minute, 60)
	for i := range list {
		if a, ok := e.reg.Active(list[i].MethodID); ok {
			if list[i].MethodID == readLatest {
				a.Total++ // it stands in for read-latest-stat, which is in flight while it answers
			}
			list[i].ActiveRequestsLimit = &a.Limit
			list[i].ActiveRequestsUserLimit = &a.UserLimit
			list[i].TotalActiveRequests = &a.Total
		}
	}
	return handWrite(t, list)
}

// handHistory is read-history-stat written by hand.
func handHistory(t testing.TB, e *env, stmts []string, params string) string {
	var ids []string
	require.NoError(t, json.Unmarshal([]byte(params), &ids))
	return handWrite(t, handBuckets(t, e, stmts, ids, 10*time.Minute, calllog.HistoryBuckets)[0])
}

// handBuckets builds the answer's structs for ids from the stored buckets:
// n buckets of step ending with the one that holds now.
func handBuckets(t testing.TB, e *env, stmts []string, ids []string, step time.Duration, n int) []calllog.MethodStats {
	now := time.Now().UTC()
	first := now.Truncate(step).Add(-time.Duration(n-1) * step)
	list := make([]calllog.MethodStats, len(ids))
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
		st := &list[i]
		st.MethodID, st.ID, st.LastUpdated = id, id, now
		st.Buckets = make([]calllog.Bucket, n)
		st.Load = make([]calllog.LoadPoint, n)
		st.Requests = make([]calllog.RequestPoint, n)
		for j := range n {
			d := first.Add(time.Duration(j) * step)
			st.Buckets[j].Date, st.Load[j].Date, st.Requests[j].Date = d, d, d
		}
	}
	for _, q := range stmts {
		for _, s := range scanBuckets(t, e.db, q) {
			i, ok := index[s.method]
			j := int(s.date.Sub(first) / step)
			if !ok || j < 0 || j >= n {
				continue
			}
			st := &list[i]
			bk := calllog.Bucket{Date: s.date, TotalAccepted: s.accepted, TotalDeclined: s.declined,
				TotalErrors: s.errors, TotalExceptions: s.exceptions}
			if s.accepted > 0 {
				a := float64(s.accepted)
				bk.ExceptionsPercent = float64(s.exceptions) / a * 100
				bk.AvgRuntime = float64(s.runtimeSum) / a / float64(time.Millisecond)
				bk.MaxRuntime = float64(s.runtimeMax) / float64(time.Millisecond)
			}
			st.Buckets[j] = bk
			st.Load[j] = calllog.LoadPoint{Date: s.date, TotalAccepted: s.accepted, TotalDeclined: s.declined}
			st.Requests[j] = calllog.RequestPoint{Date: s.date, ExceptionsPercent: bk.ExceptionsPercent, AvgRuntime: bk.AvgRuntime / 1000}
		}
	}
	return list
}

// handWrite encodes data in the answer's envelope with encoding/json and
// writes it as a handler would.
func handWrite(t testing.TB, data any) string {
	type result struct {
		Status     int            `json:"status"`
		StatusText string         `json:"status_text"`
		Exception  bool           `json:"exception"`
		Data       any            `json:"data"`
		Meta       map[string]any `json:"meta"`
	}
	out, err := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		Result  result `json:"result"`
	}{"2.0", result{200, "OK", false, data, map[string]any{}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/json")
	_, _ = rec.Write(out)
	return rec.Body.String()
}

// lastUpdatedRE matches the time an answer was made.
var lastUpdatedRE = regexp.MustCompile(`"last_updated":"[^"]*"`)
