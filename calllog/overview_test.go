package calllog_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

const readOverview = calllog.Prefix + "/read-overview"

func (e *env) overview(t *testing.T) (map[string]calllog.Overview, map[string]any) {
	t.Helper()
	var rows []calllog.Overview
	a := e.ok(t, readOverview, ``, &rows)
	out := map[string]calllog.Overview{}
	for _, r := range rows {
		out[r.MethodID] = r
	}
	return out, a.Meta
}

// The overview counts every logged method's calls of the last hour so
// that they add up, averages their runtimes and estimates the 95th
// percentile from the runtime bins, which two instances on one database
// add to alike.
func TestOverview(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		one := newEnv(t, db, fast(calllog.Options{}))
		two := newEnv(t, db, fast(calllog.Options{}))
		now := time.Now()
		observe := func(e *env, n int, rec rpc.CallRecord, runtime func(i int) time.Duration) {
			for i := range n {
				rec.Start, rec.Runtime = now, runtime(i)
				e.mod.ObserveCall(rec)
			}
		}
		ms := func(i int) time.Duration { return time.Duration(i+1) * time.Millisecond }
		fixed := func(int) time.Duration { return time.Millisecond }
		// 1 to 100 ms, half on each instance.
		observe(one, 50, rpc.CallRecord{Method: mOK, Code: 200}, ms)
		observe(two, 50, rpc.CallRecord{Method: mOK, Code: 200}, func(i int) time.Duration { return ms(i + 50) })
		observe(one, 10, rpc.CallRecord{Method: mOK, Code: 400, Error: true}, fixed)
		observe(two, 2, rpc.CallRecord{Method: mOK, Code: 500, Error: true, Exception: true}, fixed)
		observe(one, 5, rpc.CallRecord{Method: mOK, Code: -32801, Error: true, Declined: true}, fixed)

		var got map[string]calllog.Overview
		var meta map[string]any
		require.Eventually(t, func() bool {
			got, meta = one.overview(t)
			return got[mOK].Calls == 117
		}, 10*time.Second, 10*time.Millisecond)
		o := got[mOK]
		assert.Equal(t, calllog.Overview{MethodID: mOK, Calls: 117, Accepted: 112, OK: 100, Errors: 12, Exceptions: 2, Declined: 5,
			AvgRuntime: o.AvgRuntime, P95Runtime: o.P95Runtime, MaxRuntime: 100}, o)
		assert.InDelta(t, float64(5050+12)/112, o.AvgRuntime, 1e-9)
		// Of the 112 runtimes in order, the 107th (95 % of 112, rounded
		// up) is 95 ms.
		assert.InEpsilon(t, 95, o.P95Runtime, 0.25)
		assert.Equal(t, o.OK+o.Errors+o.Declined, o.Calls)

		other, _ := two.overview(t)
		assert.Equal(t, o, other[mOK], "every instance answers the same")
		assert.Equal(t, calllog.Overview{MethodID: mFail}, got[mFail], "a method without calls answers zeros")
		assert.NotContains(t, got, mQuiet, "a method without a call log is not listed")

		from, err := time.Parse(time.RFC3339, meta["from"].(string))
		require.NoError(t, err)
		to, err := time.Parse(time.RFC3339, meta["to"].(string))
		require.NoError(t, err)
		assert.Equal(t, time.Hour, to.Sub(from))
		assert.False(t, now.Before(from) || !now.Before(to), "the window holds the calls")

		// The counts are the sums of read-latest-stat's buckets.
		accepted, declined, errs, exceptions := sum(one.latest(t, mOK))
		assert.Equal(t, [4]int64{o.Accepted, o.Declined, o.Errors, o.Exceptions}, [4]int64{accepted, declined, errs, exceptions})
	})
}
