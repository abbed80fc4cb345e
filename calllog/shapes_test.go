package calllog_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// The chart rows @softvisio/core front ends read (SPEC §7a): load and
// requests beside our buckets, and the live bounds on calls in flight in
// read-latest-stat.
func TestSeedChartRows(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, fast(calllog.Options{}))
		release := make(chan struct{})
		entered := make(chan struct{})
		e.reg.Section("/v1/b", "Bounded").Register(rpc.Method{
			ID: "slow", Title: "Slow", Permissions: []string{auth.Anyone}, MaxActive: 3, MaxActivePerUser: 2,
			Handler: func(ctx context.Context) error {
				entered <- struct{}{}
				<-release
				return nil
			},
		})
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.c.Call(t, "/v1/b/slow")
		}()
		<-entered

		var all []calllog.MethodStats
		e.ok(t, readLatest, `[]`, &all)
		var slow *calllog.MethodStats
		for i := range all {
			if all[i].ID == "/v1/b/slow" {
				slow = &all[i]
			}
		}
		require.NotNil(t, slow)
		require.NotNil(t, slow.ActiveRequestsLimit)
		assert.Equal(t, 3, *slow.ActiveRequestsLimit)
		assert.Equal(t, 2, *slow.ActiveRequestsUserLimit)
		assert.Equal(t, int64(1), *slow.TotalActiveRequests, "the call in flight")
		close(release)
		<-done

		e.ok(t, mOK, `[]`, nil)
		require.Eventually(t, func() bool {
			st := e.latest(t, mOK)
			var n int64
			for _, p := range st.Load {
				n += p.TotalAccepted
			}
			return n == 1
		}, 10*time.Second, 20*time.Millisecond)
		st := e.latest(t, mOK)
		assert.Equal(t, mOK, st.ID)
		assert.Nil(t, st.ActiveRequestsLimit, "only without a method id")
		require.Len(t, st.Load, len(st.Buckets))
		require.Len(t, st.Requests, len(st.Buckets))
		for i, b := range st.Buckets {
			assert.Equal(t, b.Date, st.Load[i].Date)
			assert.Equal(t, b.TotalAccepted, st.Load[i].TotalAccepted)
			assert.InDelta(t, b.AvgRuntime/1000, st.Requests[i].AvgRuntime, 1e-12, "seconds")
		}
		assert.False(t, st.LastUpdated.IsZero())

		rows := e.readAll(t, mOK)
		require.Len(t, rows, 1)
		var seed []struct {
			Started  time.Time `json:"started"`
			Finished time.Time `json:"finished"`
			Runtime  float64   `json:"runtime"`
		}
		e.ok(t, readLog, `[{"where":{"method_id":"`+mOK+`"}}]`, &seed)
		require.Len(t, seed, 1)
		assert.True(t, seed[0].Started.Equal(rows[0].Date))
		assert.InDelta(t, seed[0].Runtime, float64(seed[0].Finished.Sub(seed[0].Started))/float64(time.Millisecond), 0.001)
	})
}
