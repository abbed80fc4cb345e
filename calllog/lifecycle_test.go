package calllog_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// statSum adds up a column of a bucket table for a method.
func statSum(t testing.TB, db *bun.DB, table, method, column string) int {
	t.Helper()
	var n int
	err := db.NewSelect().TableExpr(table).ColumnExpr("COALESCE(SUM(?), 0)", bun.Ident(column)).
		Where("method_id = ?", method).Scan(t.Context(), &n)
	require.NoError(t, err)
	return n
}

// TestCloseFlushes makes calls that nothing writes in the background (the
// intervals are an hour, the batch is larger than the calls): Close, which
// the registry's Shutdown calls, writes every row and every statistic
// before it returns.
func TestCloseFlushes(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, calllog.Options{FlushInterval: time.Hour, StatsInterval: time.Hour})
		for range 400 {
			require.Equal(t, 200, hit(e.reg, mOK, ""))
		}
		for range 100 {
			require.Equal(t, 401, hit(e.reg, mAdmin, ""))
		}
		assert.Equal(t, calllog.Stats{Queued: 500}, e.mod.Stats())
		assert.Zero(t, stored(t, db, mOK), "nothing written before Close")

		// The registry's Shutdown closes the module, which Mount handed to it.
		require.NoError(t, e.reg.Shutdown(t.Context()))
		assert.Equal(t, calllog.Stats{Written: 500}, e.mod.Stats())
		assert.Equal(t, 400, stored(t, db, mOK))
		assert.Equal(t, 100, stored(t, db, mAdmin))
		for _, table := range []string{"calllog_stat_1m", "calllog_stat_10m"} {
			assert.Equal(t, 400, statSum(t, db, table, mOK, "total_accepted"), table)
			assert.Equal(t, 100, statSum(t, db, table, mAdmin, "total_declined"), table)
		}

		// After Close, calls still answer; their records are dropped and counted.
		require.Equal(t, 200, hit(e.reg, mOK, ""))
		assert.Equal(t, calllog.Stats{Written: 500, Dropped: 1}, e.mod.Stats())
		require.NoError(t, e.mod.Close(t.Context()), "Close twice is harmless")
	})
}

// TestRetention removes rows, buckets and flush marks older than the
// (configured) retention, and keeps the rest.
func TestRetention(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		base := time.Now().UTC()
		var shift atomic.Int64 // how far the module's clock is ahead
		now := func() time.Time { return base.Add(time.Duration(shift.Load())) }
		e := newEnv(t, db, calllog.Options{
			Retention: 48 * time.Hour, RetentionInterval: time.Hour,
			FlushInterval: time.Hour, StatsInterval: time.Hour, Now: now,
		})
		feed := func(age time.Duration, n int) {
			for range n {
				e.mod.ObserveCall(rpc.CallRecord{Method: mOK, Start: base.Add(-age), Runtime: time.Millisecond, Code: 200, StatusText: "OK"})
			}
		}
		feed(49*time.Hour, 3) // past the retention
		feed(47*time.Hour, 2) // within it, for another hour
		feed(time.Hour, 4)
		require.NoError(t, e.mod.Close(t.Context()))
		marks := func() int {
			n, err := db.NewSelect().TableExpr("calllog_flushes").Count(t.Context())
			require.NoError(t, err)
			return int(n)
		}
		require.Positive(t, marks())
		buckets := func(table string) int {
			n, err := db.NewSelect().TableExpr(table).Where("method_id = ?", mOK).Count(t.Context())
			require.NoError(t, err)
			return int(n)
		}
		assert.Equal(t, 3, buckets("calllog_stat_1m"))

		ids := func() []string {
			var out []string
			for _, r := range e.readAll(t, mOK) {
				out = append(out, r.ID)
			}
			return out
		}
		before := ids()
		require.Len(t, before, 9)
		require.NoError(t, e.mod.RunRetention(t.Context()))
		assert.Equal(t, 6, stored(t, db, mOK))
		assert.Equal(t, before[:6], ids(), "the rows kept keep their ids")
		assert.Equal(t, 6, statSum(t, db, "calllog_stat_1m", mOK, "total_accepted"))
		assert.Equal(t, 6, statSum(t, db, "calllog_stat_10m", mOK, "total_accepted"))
		assert.Equal(t, 2, buckets("calllog_stat_1m"))
		assert.Positive(t, marks(), "flush marks are kept for a day")

		shift.Store(int64(2 * time.Hour))
		require.NoError(t, e.mod.RunRetention(t.Context()))
		assert.Equal(t, 4, stored(t, db, mOK))
		assert.Equal(t, 4, statSum(t, db, "calllog_stat_10m", mOK, "total_accepted"))
		assert.Equal(t, 1, buckets("calllog_stat_1m"))

		shift.Store(int64(25 * time.Hour))
		require.NoError(t, e.mod.RunRetention(t.Context()))
		assert.Zero(t, marks(), "flush marks older than a day are removed")
		assert.Equal(t, 4, stored(t, db, mOK))

		shift.Store(int64(48 * time.Hour))
		require.NoError(t, e.mod.RunRetention(t.Context()))
		assert.Zero(t, stored(t, db, mOK))
		for _, table := range []string{"calllog_stat_1m", "calllog_stat_10m"} {
			assert.Zero(t, buckets(table), table)
		}
	})
}

// TestRetentionInChunks removes more batches than one DELETE takes: one
// old row of each of 2,500 methods (a batch each), beside 25,000 old rows
// and a new one of another method, written together (one batch, from which
// retention trims the old rows).
func TestRetentionInChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 27,500 rows")
	}
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, calllog.Options{FlushInterval: time.Hour, StatsInterval: time.Hour, RetentionInterval: time.Hour})
		old := time.Now().Add(-31 * 24 * time.Hour)
		for i := range 25_000 {
			e.mod.ObserveCall(rpc.CallRecord{Method: mOK, Start: old.Add(time.Duration(i) * time.Millisecond), Code: 200, StatusText: "OK"})
		}
		for i := range 2_500 {
			e.mod.ObserveCall(rpc.CallRecord{Method: fmt.Sprintf("/v1/old/%d", i), Start: old, Code: 200, StatusText: "OK"})
		}
		e.mod.ObserveCall(rpc.CallRecord{Method: mOK, Start: time.Now(), Code: 200, StatusText: "OK"})
		ctx := t.Context() // bounded by the test's timeout: a loaded machine takes minutes here
		require.NoError(t, e.mod.Close(ctx))
		require.Equal(t, 25_001, stored(t, db, mOK))
		batches := func() int {
			n, err := db.NewSelect().TableExpr("calllog_batches").Count(ctx)
			require.NoError(t, err)
			return int(n)
		}
		require.Greater(t, batches(), 2_500)
		require.NoError(t, e.mod.RunRetention(ctx))
		assert.Equal(t, 1, stored(t, db, mOK))
		assert.Equal(t, 1, batches())
	})
}

// TestHostileRecords feeds records that PostgreSQL text cannot hold as they
// are (NUL, invalid UTF-8, a huge message): they are cleaned, not lost, and
// do not take the rows queued with them down.
func TestHostileRecords(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, fast(calllog.Options{}))
		now := time.Now()
		bad := "/v1/t/ok\x00\xff"
		e.mod.ObserveCall(rpc.CallRecord{Method: mOK, Start: now, Code: 400, StatusText: "bad \x00 \xff text " + strings.Repeat("x", 5000), Error: true})
		e.mod.ObserveCall(rpc.CallRecord{Method: bad, Start: now, Code: 200, StatusText: "OK"})
		e.mod.ObserveCall(rpc.CallRecord{Method: "/v1/t/ok\xfe", Start: now, Code: 200, StatusText: "OK"}) // cleans to the same
		e.mod.ObserveCall(rpc.CallRecord{Method: mOK, Start: now, Code: 200, StatusText: "OK"})
		require.NoError(t, e.mod.Close(t.Context()))
		assert.Equal(t, calllog.Stats{Written: 4}, e.mod.Stats())
		assert.Equal(t, 2, stored(t, db, mOK))
		assert.Equal(t, 2, stored(t, db, "/v1/t/ok\uFFFD"))
		var texts []string
		for _, r := range e.readAll(t, mOK) {
			if r.Status == 400 {
				texts = append(texts, r.StatusText)
			}
		}
		require.Len(t, texts, 1)
		assert.True(t, strings.HasPrefix(texts[0], "bad  \uFFFD text xxx"), "%.20q", texts[0])
		assert.Len(t, texts[0], 1024, "cut at 1024 bytes")
		assert.Equal(t, 2, statSum(t, db, "calllog_stat_10m", "/v1/t/ok\uFFFD", "total_accepted"))
	})
}
