package calllog

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every runtime falls in the bin whose bounds hold it, the bins tile the
// line without gaps, and a bin is at most a quarter of its lower bound wide.
func TestRuntimeBins(t *testing.T) {
	t.Parallel()
	for _, ns := range []int64{0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 1000, 1_000_000, 123_456_789, math.MaxInt64} {
		k := runtimeBin(ns)
		require.Less(t, k, runtimeBins, ns)
		lo, hi := binBounds(k)
		assert.True(t, float64(ns) >= lo && float64(ns) < hi || ns == math.MaxInt64, "%d in bin %d [%g,%g)", ns, k, lo, hi)
	}
	prevHi := 0.0
	for k := range runtimeBins {
		lo, hi := binBounds(k)
		require.Equal(t, prevHi, lo, "bin %d starts where %d ends", k, k-1)
		if k >= binsPerDoubling {
			require.LessOrEqual(t, hi-lo, lo/4, "bin %d", k)
		}
		prevHi = hi
	}
	assert.Equal(t, runtimeBins-1, runtimeBin(math.MaxInt64))
}

// The 95th percentile read from the bins is within a quarter of the exact
// one, for runtimes spread over three orders of magnitude.
func TestPercentile(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		n := 1 + r.IntN(5000)
		runtimes := make([]int64, n)
		bins := map[int]int64{}
		var maxNS int64
		for i := range runtimes {
			runtimes[i] = int64(math.Exp(r.Float64()*7) * 1e5) // 0.1 ms to 110 ms
			bins[runtimeBin(runtimes[i])]++
			maxNS = max(maxNS, runtimes[i])
		}
		slices.Sort(runtimes)
		exact := float64(runtimes[int(math.Ceil(0.95*float64(n)))-1])
		got := percentile(bins, 0.95, maxNS)
		assert.InEpsilon(t, exact, got, 0.25, "n=%d", n)
		assert.LessOrEqual(t, got, float64(maxNS))
	}
	assert.Zero(t, percentile(map[int]int64{}, 0.95, 0))
	assert.Equal(t, 7.0, percentile(map[int]int64{runtimeBin(7): 1}, 0.95, 7), "capped at the maximum")
}
