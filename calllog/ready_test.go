package calllog_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/internal/fakeclock"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// Ready reports the writer stalled once rows have waited, unwritten, for
// longer than StallAfter on the module's clock: by default 30 s, or three
// FlushIntervals when that is longer. (Here the writer waits for a tick an
// hour away; package health's tests stall it with a database outage.)
func TestReady(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		clk := fakeclock.New()
		e := newEnv(t, db, calllog.Options{Now: clk.Now, FlushInterval: time.Hour, StatsInterval: time.Hour})
		ctx := t.Context()
		require.NoError(t, e.mod.Ready(ctx))
		clk.Advance(4 * time.Hour)
		require.NoError(t, e.mod.Ready(ctx), "nothing queued: nothing stalls")

		require.Equal(t, 200, e.c.Post(t, mOK, ``).HTTP)
		require.Equal(t, 1, e.mod.Stats().Queued)
		require.NoError(t, e.mod.Ready(ctx))
		clk.Advance(3 * time.Hour)
		require.NoError(t, e.mod.Ready(ctx), "three FlushIntervals")
		clk.Advance(time.Second)
		var stalled *calllog.StalledError
		require.ErrorAs(t, e.mod.Ready(ctx), &stalled)
		assert.Equal(t, 1, stalled.Queued)
		assert.Equal(t, 3*time.Hour+time.Second, stalled.Since)
		assert.EqualError(t, stalled, "calllog: writer stalled: 1 rows queued, none written for 3h0m1s")

		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, e.mod.Close(cctx))
		assert.Equal(t, uint64(1), e.mod.Stats().Written, "Close wrote it")
		assert.ErrorIs(t, e.mod.Ready(ctx), calllog.ErrClosed)
	})
}
