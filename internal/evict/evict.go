// Package evict makes room in a bounded in-memory cache.
package evict

// Sample is how many entries Sampled looks at to choose what to drop.
const Sample = 8

// Sampled makes room in m: it looks at a few entries (map order is random
// enough) and drops the expired ones, or else the one that expires first,
// which is about the oldest: sampled oldest-first eviction at O(1) cost, in
// the manner of Redis. expires tells an entry's expiry in Unix nanoseconds.
func Sampled[K comparable, V any](m map[K]V, now int64, expires func(V) int64) {
	var (
		victim  K
		soonest int64
		dropped bool
		seen    int
	)
	for k, v := range m {
		if exp := expires(v); exp <= now {
			delete(m, k)
			dropped = true
		} else if seen == 0 || exp < soonest {
			victim, soonest = k, exp
		}
		if seen++; seen == Sample {
			break
		}
	}
	if !dropped && seen > 0 {
		delete(m, victim)
	}
}
