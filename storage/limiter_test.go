package storage_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

var _ auth.RateLimiter = (*storage.Limiter)(nil)

// fakeTime is a settable clock.
type fakeTime struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeTime) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeTime) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newLimits(t *testing.T, db *bun.DB, c *fakeTime) *storage.Limits {
	t.Helper()
	l, err := storage.NewLimits(context.Background(), db, storage.LimitsOptions{Now: c.Now}, quiet)
	require.NoError(t, err)
	return l
}

func take(t *testing.T, l *storage.Limiter, key string) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := l.Take(context.Background(), key)
	require.NoError(t, err)
	return ok, retry
}

func TestLimiterBucket(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		c := &fakeTime{now: time.Unix(1_800_000_000, 0)}
		l := newLimits(t, db, c).Limiter("test", 0.5, 3) // 3 at once, then one per 2 s

		for i := range 3 {
			ok, _ := take(t, l, "k")
			require.True(t, ok, "event %d of the burst", i+1)
		}
		ok, retry := take(t, l, "k")
		assert.False(t, ok)
		assert.Equal(t, 2*time.Second, retry)
		ok, _ = take(t, l, "k")
		assert.False(t, ok, "a refusal takes nothing, but gives nothing back either")

		ok, _ = take(t, l, "other")
		assert.True(t, ok, "each key has its own bucket")

		c.Add(time.Second)
		ok, retry = take(t, l, "k")
		assert.False(t, ok)
		assert.Equal(t, time.Second, retry)
		c.Add(time.Second)
		ok, _ = take(t, l, "k")
		assert.True(t, ok, "one more after 2 s")
		ok, _ = take(t, l, "k")
		assert.False(t, ok)

		c.Add(time.Hour)
		for range 3 {
			ok, _ := take(t, l, "k")
			assert.True(t, ok, "a full bucket again, and no more than full")
		}
		ok, _ = take(t, l, "k")
		assert.False(t, ok)

		require.NoError(t, l.Refill(context.Background(), "k"))
		ok, _ = take(t, l, "k")
		assert.True(t, ok, "refilled")
	})
}

// Limiters of one name share buckets wherever they are made (two instances
// on one database); limiters of two names never do.
func TestLimiterSharedByName(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		c := &fakeTime{now: time.Unix(1_800_000_000, 0)}
		a := newLimits(t, db, c).Limiter("signin", 0.001, 4)
		b := newLimits(t, db, c).Limiter("signin", 0.001, 4)
		other := newLimits(t, db, c).Limiter("signup", 0.001, 4)
		n := 0
		for i := range 10 {
			l := a
			if i%2 == 1 {
				l = b
			}
			if ok, _ := take(t, l, "k"); ok {
				n++
			}
		}
		assert.Equal(t, 4, n, "alternating two instances does not double the events")
		ok, _ := take(t, other, "k")
		assert.True(t, ok)
	})
}

// Racing takes of the last events: exactly the burst wins, on PostgreSQL
// across the connections of the pool.
func TestLimiterConcurrentTakes(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		l := newLimits(t, db, &fakeTime{now: time.Unix(1_800_000_000, 0)}).Limiter("race", 0.0001, 7)
		var won atomic.Int64
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				ok, _, err := l.Take(context.Background(), "k")
				assert.NoError(t, err)
				if ok {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(7), won.Load())
	})
}

func TestLimitsPrune(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		c := &fakeTime{now: time.Unix(1_800_000_000, 0)}
		limits := newLimits(t, db, c)
		slow := limits.Limiter("slow", 1.0/60, 2)
		fast := limits.Limiter("fast", 1, 2)
		long := strings.Repeat("x", 10_000)
		for _, key := range []string{"a", "b\x00\xff", long} {
			take(t, slow, key)
			take(t, fast, key)
		}
		var width int
		require.NoError(t, db.NewSelect().TableExpr("authrpc_rate_limits").
			ColumnExpr("MAX(LENGTH(key))").Scan(context.Background(), &width))
		assert.LessOrEqual(t, width, 128, "long keys are stored digested")

		c.Add(2 * time.Second) // fast buckets are full again, slow ones are not
		n, err := limits.Prune(context.Background())
		require.NoError(t, err)
		assert.Equal(t, int64(3), n)
		ok, _ := take(t, slow, long)
		assert.True(t, ok, "the slow bucket kept its second event")
		ok, _ = take(t, slow, long)
		assert.False(t, ok, "pruning forgot no bucket that still counts")

		c.Add(time.Hour)
		n, err = limits.Prune(context.Background())
		require.NoError(t, err)
		assert.Equal(t, int64(3), n)
	})
}

// BenchmarkLimiterTake is the cost of one shared Take (one upsert) beside
// the in-process auth.Limiter it replaces, and beside the ~30 ms argon2 run
// of a sign-in.
func BenchmarkLimiterTake(b *testing.B) {
	ctx := context.Background()
	b.Run("memory", func(b *testing.B) {
		l := auth.NewLimiter(auth.LimiterOptions{Rate: 1e9, Burst: 10})
		for b.Loop() {
			l.Take(ctx, "203.0.113.5")
		}
	})
	bench := func(b *testing.B, db *bun.DB) {
		limits, err := storage.NewLimits(ctx, db, storage.LimitsOptions{}, quiet)
		require.NoError(b, err)
		l := limits.Limiter("bench", 1e9, 10)
		for b.Loop() {
			if _, _, err := l.Take(ctx, "203.0.113.5"); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("sqlite", func(b *testing.B) { bench(b, storagetest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { bench(b, storagetest.Postgres(b)) })
}
