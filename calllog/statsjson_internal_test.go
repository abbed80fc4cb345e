package calllog

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc"
)

// referenceStats builds the answer of g as the structs that encoding/json
// encodes: the shape the hand-made answer must match byte for byte.
func referenceStats(g *statsGrid, now time.Time, active func(id string) *rpc.ActiveCalls) []MethodStats {
	out := make([]MethodStats, len(g.ids))
	for i, id := range g.ids {
		st := MethodStats{MethodID: id, ID: id, LastUpdated: now, Buckets: make([]Bucket, g.w.n),
			Load: make([]LoadPoint, g.w.n), Requests: make([]RequestPoint, g.w.n)}
		for j := range st.Buckets {
			c := g.cells[i*g.w.n+j]
			b := Bucket{Date: time.Unix(g.first+int64(j)*g.w.step, 0).UTC(), TotalAccepted: c.accepted,
				TotalDeclined: c.declined, TotalErrors: c.errors, TotalExceptions: c.exceptions}
			if c.accepted > 0 {
				n := float64(c.accepted)
				b.ExceptionsPercent = float64(c.exceptions) / n * 100
				b.AvgRuntime = float64(c.runtimeSum) / n / float64(time.Millisecond)
				b.MaxRuntime = float64(c.runtimeMax) / float64(time.Millisecond)
			}
			st.Buckets[j] = b
			st.Load[j] = LoadPoint{Date: b.Date, TotalAccepted: b.TotalAccepted, TotalDeclined: b.TotalDeclined}
			st.Requests[j] = RequestPoint{Date: b.Date, ExceptionsPercent: b.ExceptionsPercent, AvgRuntime: b.AvgRuntime / 1000}
		}
		if a := active(id); a != nil {
			st.ActiveRequestsLimit, st.ActiveRequestsUserLimit, st.TotalActiveRequests = &a.Limit, &a.UserLimit, &a.Total
		}
		out[i] = st
	}
	return out
}

// randomCounts are a bucket's counts from sparse to extreme: empty,
// declined calls only, a few calls, and sums near the limits of int64,
// so that every float format encoding/json uses comes up.
func randomCounts(r *rand.Rand) counts {
	switch r.IntN(6) {
	case 0:
		return counts{}
	case 1:
		return counts{declined: r.Int64N(5) + 1, exceptions: r.Int64N(2)}
	case 2:
		a := r.Int64N(10) + 1
		return counts{accepted: a, declined: r.Int64N(3), errors: r.Int64N(a + 1), exceptions: r.Int64N(a + 1),
			runtimeSum: r.Int64N(int64(time.Second)) * a, runtimeMax: r.Int64N(int64(time.Second))}
	case 3: // tiny percentages and averages: exponent form, e-7 to e-25
		a := []int64{math.MaxInt64 / (r.Int64N(1000) + 1), 200_000_000 + r.Int64N(1e10)}[r.IntN(2)]
		return counts{accepted: a, exceptions: 1, runtimeSum: r.Int64N(3), runtimeMax: 1}
	case 4: // huge sums
		return counts{accepted: 1, runtimeSum: math.MaxInt64 - r.Int64N(1000), runtimeMax: math.MaxInt64}
	}
	a := r.Int64N(1_000_000) + 1
	return counts{accepted: a, declined: r.Int64N(a), errors: r.Int64N(a), exceptions: r.Int64N(a),
		runtimeSum: r.Int64N(math.MaxInt64/2) + 1, runtimeMax: r.Int64N(math.MaxInt64/2) + 1}
}

// The hand-made answers are what encoding/json makes of the structs that
// describe them, byte for byte, whatever the counts and method ids.
func TestStatsJSONIsEncodingJSONs(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	ids := []string{"/v1/a", "/v1/b&c<d>", "/v1/ünï", "/v1/\"q\"\\", "/v1/\u2028line", "/v1/bad\xff", "/v1/ctl\x01\n", ""}
	for _, w := range []window{latestWindow(tables{}), historyWindow(tables{})} {
		for _, now := range []time.Time{time.Date(2026, 12, 6, 13, 4, 5, 123456789, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} {
			first, _ := w.bounds(now)
			g := &statsGrid{w: w, first: first, ids: ids, cells: make([]counts, len(ids)*w.n)}
			for k := range g.cells {
				if g.cells[k] = randomCounts(r); g.cells[k] != (counts{}) {
					g.nonEmpty++
				}
			}
			actives := map[string]*rpc.ActiveCalls{}
			for i, id := range ids {
				actives[id] = &rpc.ActiveCalls{Limit: i, UserLimit: i % 3, Total: int64(i * 7)}
			}
			for _, active := range []bool{false, true} {
				of := func(id string) *rpc.ActiveCalls {
					if active {
						return actives[id]
					}
					return nil
				}
				want, err := json.Marshal(referenceStats(g, now, of))
				require.NoError(t, err)
				require.Equal(t, string(want), string(latestJSON(g, now, of)), "window of %d, active %v", w.n, active)
			}
			one := &statsGrid{w: w, first: first, ids: ids[:1], cells: g.cells[:w.n]}
			want, err := json.Marshal(referenceStats(one, now, func(string) *rpc.ActiveCalls { return nil })[0])
			require.NoError(t, err)
			require.Equal(t, string(want), string(historyJSON(one, now)))
		}
	}
}
