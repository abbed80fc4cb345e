package auth_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
)

// allowed counts how many of n events for key the limiter lets through.
func allowed(l *auth.Limiter, key string, n int) int {
	ok := 0
	for range n {
		if l.Allow(key) {
			ok++
		}
	}
	return ok
}

func TestLimiterBurstThenRefusal(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := auth.NewLimiter(auth.LimiterOptions{Rate: 1, Burst: 3, Now: c.Now})
	assert.True(t, l.Allow("ip:1"))
	assert.True(t, l.Allow("ip:1"))
	assert.True(t, l.Allow("ip:1"))
	assert.False(t, l.Allow("ip:1"))
	assert.False(t, l.Allow("ip:1"), "a refusal takes nothing, but gives nothing back either")
}

func TestLimiterRefill(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := auth.NewLimiter(auth.LimiterOptions{Rate: 2, Burst: 4, Now: c.Now})
	require.Equal(t, 4, allowed(l, "k", 10))

	c.Advance(499 * time.Millisecond)
	assert.False(t, l.Allow("k"))
	c.Advance(time.Millisecond)
	assert.True(t, l.Allow("k"), "one token after half a second at 2/s")
	assert.False(t, l.Allow("k"))

	c.Advance(time.Hour)
	assert.Equal(t, 4, allowed(l, "k", 10), "refill stops at Burst")
}

func TestLimiterSpent(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := auth.NewLimiter(auth.LimiterOptions{Rate: 1, Burst: 2, Now: c.Now})
	assert.False(t, l.Spent("k"), "an unknown key has a full bucket")
	assert.Zero(t, l.Len(), "asking tracks nothing")
	l.Allow("k")
	assert.False(t, l.Spent("k"))
	l.Allow("k")
	assert.True(t, l.Spent("k"))
	assert.True(t, l.Spent("k"), "asking takes nothing")
	c.Advance(time.Second)
	assert.False(t, l.Spent("k"), "refilled")
	assert.True(t, l.Allow("k"))
}

func TestLimiterSlowRate(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := auth.NewLimiter(auth.LimiterOptions{Rate: 1.0 / 60, Now: c.Now}) // Burst defaults to 1
	assert.True(t, l.Allow("user:ann"))
	assert.False(t, l.Allow("user:ann"))
	c.Advance(59 * time.Second)
	assert.False(t, l.Allow("user:ann"))
	c.Advance(time.Second)
	assert.True(t, l.Allow("user:ann"))
}

func TestLimiterIndependentKeys(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := auth.NewLimiter(auth.LimiterOptions{Rate: 1, Burst: 2, Now: c.Now})
	assert.Equal(t, 2, allowed(l, "a", 5))
	assert.Equal(t, 2, allowed(l, "b", 5))
	assert.Equal(t, 2, allowed(l, "", 5))
	assert.False(t, l.Allow("a"))
}

func TestLimiterReset(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := auth.NewLimiter(auth.LimiterOptions{Rate: 1, Burst: 2, Now: c.Now})
	assert.Equal(t, 2, allowed(l, "a", 5))
	assert.Equal(t, 2, allowed(l, "b", 5))
	l.Reset("a")
	l.Reset("never seen")
	assert.Equal(t, 2, allowed(l, "a", 5))
	assert.False(t, l.Allow("b"))
}

func TestLimiterClockStepsBack(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := auth.NewLimiter(auth.LimiterOptions{Rate: 1, Burst: 1, Now: c.Now})
	assert.True(t, l.Allow("k"))
	c.Advance(-time.Hour)
	assert.False(t, l.Allow("k"))
	c.Advance(time.Second)
	assert.True(t, l.Allow("k"), "time is counted from the last event seen")
}

func TestLimiterOptions(t *testing.T) {
	t.Parallel()
	for _, rate := range []float64{0, -1, math.NaN()} {
		assert.Panics(t, func() { auth.NewLimiter(auth.LimiterOptions{Rate: rate}) }, "rate %v", rate)
	}
	c := newClock()
	l := auth.NewLimiter(auth.LimiterOptions{Rate: math.Inf(1), Burst: 2, Now: c.Now})
	assert.Equal(t, 2, allowed(l, "k", 3), "no time, no refill, whatever the rate")
	c.Advance(time.Nanosecond)
	assert.Equal(t, 2, allowed(l, "k", 3))
}

func TestLimiterBoundedKeys(t *testing.T) {
	t.Parallel()
	for _, maxKeys := range []int{1, 10, 100, 5000} {
		t.Run(fmt.Sprint(maxKeys), func(t *testing.T) {
			c := newClock()
			l := auth.NewLimiter(auth.LimiterOptions{Rate: 1.0 / 3600, Burst: 1, MaxKeys: maxKeys, Now: c.Now})
			for i := range 3*maxKeys + 2000 {
				// Every key is drained, so nothing is stale: the bound must force room.
				require.True(t, l.Allow(fmt.Sprint("k", i)))
				require.LessOrEqual(t, l.Len(), maxKeys)
			}
		})
	}
}

func TestLimiterDropsStaleKeys(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := auth.NewLimiter(auth.LimiterOptions{Rate: 1, Burst: 1, Now: c.Now})
	assert.True(t, l.Allow("limited"))
	for i := range 1100 {
		l.Allow(fmt.Sprint("k", i))
	}
	// Nothing had refilled at the prune, so the drained key was kept, and is still refused.
	assert.Equal(t, 1101, l.Len())
	assert.False(t, l.Allow("limited"))

	// Once buckets are full again, forgetting them is lossless: the next
	// prune (when the map has doubled) drops all the old keys.
	c.Advance(time.Minute)
	for i := range 2100 {
		l.Allow(fmt.Sprint("new", i))
	}
	assert.Equal(t, 2100, l.Len(), "stale buckets were kept")
}

func TestLimiterConcurrent(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := auth.NewLimiter(auth.LimiterOptions{Rate: 1, Burst: 100, MaxKeys: 50, Now: c.Now})
	var ok atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				if l.Allow("shared") {
					ok.Add(1)
				}
				l.Allow(fmt.Sprint(g, "-", i)) // churn the map and its pruning
				if i%10 == 0 {
					_ = l.Len()
				}
			}
		})
	}
	wg.Wait()
	// "shared" may have been forgotten under churn (MaxKeys 50), which only resets it.
	assert.GreaterOrEqual(t, ok.Load(), int64(100))
	assert.LessOrEqual(t, l.Len(), 50)
}

func TestLimiterConcurrentExact(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := auth.NewLimiter(auth.LimiterOptions{Rate: 1, Burst: 100, Now: c.Now})
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if l.Allow("shared") {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 100, ok.Load(), "exactly Burst events pass while the clock stands still")
}

func BenchmarkLimiterAllow(b *testing.B) {
	l := auth.NewLimiter(auth.LimiterOptions{Rate: 1e9, Burst: 1})
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprint("ip:", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(keys[i%len(keys)])
		i++
	}
}

func TestLimiterTakeSaysWhenToRetry(t *testing.T) {
	t.Parallel()
	c := newClock()
	var l auth.RateLimiter = auth.NewLimiter(auth.LimiterOptions{Rate: 0.5, Burst: 2, Now: c.Now})
	ctx := context.Background()
	for range 2 {
		ok, _, err := l.Take(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, retry, err := l.Take(ctx, "k")
	require.NoError(t, err)
	assert.False(t, ok)
	assert.InDelta(t, 2*time.Second, retry, float64(time.Millisecond), "one event per 2 s")
	c.Advance(retry)
	ok, _, _ = l.Take(ctx, "k")
	assert.True(t, ok, "allowed once retryAfter has passed")

	require.NoError(t, l.Refill(ctx, "k"))
	ok, _, _ = l.Take(ctx, "k")
	assert.True(t, ok, "a refilled bucket is full")
}

func TestAddrKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
		"fe80::1%eth0":         "fe80::/64",
		"not an address":       "not an address",
		"":                     "",
	} {
		assert.Equal(t, want, auth.AddrKey(in), in)
	}
}
