package evict_test

import (
	"testing"

	"github.com/authrpc/authrpc/internal/evict"
)

func expires(v int64) int64 { return v }

func TestDropsExpired(t *testing.T) {
	t.Parallel()
	m := map[string]int64{"old": 5, "new": 50}
	evict.Sampled(m, 10, expires)
	if _, ok := m["old"]; ok || len(m) != 1 {
		t.Fatalf("the expired entry stays: %v", m)
	}
}

func TestDropsTheSoonestWhenNoneExpired(t *testing.T) {
	t.Parallel()
	m := map[string]int64{"a": 30, "b": 20, "c": 40}
	evict.Sampled(m, 10, expires)
	if _, ok := m["b"]; ok || len(m) != 2 {
		t.Fatalf("want b dropped (it expires first): %v", m)
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	evict.Sampled(map[string]int64{}, 10, expires) // no panic, nothing to drop
}

// Past Sample entries it looks at no more than Sample, and still drops one.
func TestLargeMapDropsOne(t *testing.T) {
	t.Parallel()
	m := map[int]int64{}
	for i := range 1000 {
		m[i] = int64(100 + i)
	}
	evict.Sampled(m, 10, expires)
	if len(m) != 999 {
		t.Fatalf("want one dropped, have %d entries", len(m))
	}
}
