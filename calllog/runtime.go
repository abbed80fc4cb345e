package calllog

import (
	"math"
	"math/bits"
	"time"
)

// Runtimes are also counted in a histogram per method and minute, for the
// overview's 95th percentile: the minute and ten-minute buckets hold sums
// and maxima, from which no percentile follows. A bin covers a quarter of a
// doubling of the runtime in nanoseconds (bins 0 to 3 hold 0 to 3 ns, then
// [4,5), [5,6), [6,7), [7,8), [8,10), [10,12), …): a percentile read from
// it, by interpolating within its bin, is off by less than the bin's width,
// at most a quarter of the value. Like the buckets, the stored bins hold
// counts that each merge adds to, so several instances add up.
const (
	binsPerDoubling = 4
	runtimeBins     = 62 * binsPerDoubling // the last holds math.MaxInt64
)

// runtimeBin is the bin of a runtime of ns nanoseconds (not negative).
func runtimeBin(ns int64) int {
	if ns < binsPerDoubling {
		return int(max(ns, 0))
	}
	e := bits.Len64(uint64(ns)) - 1 // 2 or more
	sub := int(ns>>(e-2)) & (binsPerDoubling - 1)
	return (e-1)*binsPerDoubling + sub
}

// binBounds are the runtimes (ns) bin k holds: from lo up to, not
// including, hi.
func binBounds(k int) (lo, hi float64) {
	if k < binsPerDoubling {
		return float64(k), float64(k + 1)
	}
	e := k/binsPerDoubling + 1
	sub := k % binsPerDoubling
	lo = math.Ldexp(float64(binsPerDoubling+sub), e-2)
	return lo, lo + math.Ldexp(1, e-2)
}

// binCounts are the runtimes of a method's minute, by bin.
type binCounts [runtimeBins]uint32

// percentile estimates the q-quantile (0 < q ≤ 1) of the runtimes that
// bins count, in nanoseconds, interpolating linearly within the bin where
// it falls, and at most max: 0 without runtimes.
func percentile(bins map[int]int64, q float64, maxNS int64) float64 {
	var total int64
	for _, n := range bins {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total) // the rank-th runtime, 1-based, in order
	var seen int64
	for k := range runtimeBins {
		n := bins[k]
		if n == 0 {
			continue
		}
		if float64(seen+n) >= rank {
			lo, hi := binBounds(k)
			v := lo + (hi-lo)*(rank-float64(seen))/float64(n)
			return min(v, float64(maxNS))
		}
		seen += n
	}
	return float64(maxNS)
}

// runtimeRetention is how long the stored bins are kept (at least): the
// overview reads the last hour of them.
const runtimeRetention = 2 * time.Hour

// binRow is a stored bin.
type binRow struct {
	MethodID string    `bun:"method_id"`
	Date     time.Time `bun:"date"`
	Bin      int16     `bun:"bin"`
	N        int64     `bun:"n"`
}
