package auth

import (
	"context"
	"math"
	"sync"
	"time"
)

// RateLimiter is a keyed rate limiter: *Limiter keeps its buckets in
// process memory, storage.Limiter in a database that every instance of a
// service shares, so that N instances do not give N times the events.
type RateLimiter interface {
	// Take takes an event from key's bucket if it has one. When it has
	// none, ok is false and retryAfter says how long until it will. err is
	// set only when the limiter could not decide (a database error).
	Take(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)

	// Refill gives key a full bucket again.
	Refill(ctx context.Context, key string) error
}

var _ RateLimiter = (*Limiter)(nil)

// DefaultLimiterMaxKeys bounds the keys a Limiter tracks when
// LimiterOptions leaves MaxKeys zero.
const DefaultLimiterMaxKeys = 100_000

// minPruneAt keeps a small Limiter from scanning its map on every new key.
const minPruneAt = 1024

// LimiterOptions configure a Limiter.
type LimiterOptions struct {
	// Rate is how many tokens a key regains per second. It must be positive:
	// 1.0/60 is one a minute.
	Rate float64

	// Burst is how many tokens a key holds at most, and starts with. Default 1.
	Burst int

	// MaxKeys bounds how many keys are tracked. Default 100,000.
	MaxKeys int

	// Now tells the time; tests set it. Default time.Now.
	Now func() time.Time
}

// Limiter is a keyed token-bucket rate limiter for abuse protection: each
// key (a client address, a user name) has a bucket of Burst tokens that
// refills at Rate per second, and each allowed event takes one.
// It is safe for concurrent use.
//
// Memory stays bounded without a background goroutine: when the map grows,
// Allow drops the buckets that have refilled (forgetting them changes
// nothing) and, should MaxKeys still be reached, arbitrary others. Forgetting
// a key resets its limit, which is the lesser harm next to turning away every
// new key while the map is full of a flood's keys.
type Limiter struct {
	rate     float64
	burst    float64
	maxKeys  int
	lowWater int // a forced prune leaves at most this many keys
	now      func() time.Time

	mu      sync.Mutex
	buckets map[string]bucket
	pruneAt int // prune before adding a key once there are this many
}

type bucket struct {
	tokens float64
	last   time.Time // when tokens was last brought up to date
}

// NewLimiter returns a Limiter with the given options. It panics if Rate is
// not positive.
func NewLimiter(opts LimiterOptions) *Limiter {
	if !(opts.Rate > 0) {
		panic("auth: NewLimiter: Rate must be positive")
	}
	l := &Limiter{
		rate:    opts.Rate,
		burst:   float64(positiveOr(opts.Burst, 1)),
		maxKeys: positiveOr(opts.MaxKeys, DefaultLimiterMaxKeys),
		now:     opts.Now,
		buckets: make(map[string]bucket),
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.lowWater = l.maxKeys - max(1, l.maxKeys/8)
	l.pruneAt = min(l.maxKeys, minPruneAt)
	return l
}

// Allow reports whether the event for key may happen now, and if so takes a
// token from key's bucket.
func (l *Limiter) Allow(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if ok {
		b.tokens = l.refill(b, now)
	} else {
		if len(l.buckets) >= l.pruneAt {
			l.prune(now)
		}
		b.tokens = l.burst
	}
	b.last = now
	allowed := b.tokens >= 1
	if allowed {
		b.tokens--
	}
	l.buckets[key] = b
	return allowed
}

// Spent reports whether key's bucket is empty now, so that Allow would
// refuse, without taking a token.
func (l *Limiter) Spent(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	return ok && l.refill(b, now) < 1
}

// Take is Allow as a RateLimiter: when the bucket is empty, it also says how
// long until it holds an event again. It never fails.
func (l *Limiter) Take(_ context.Context, key string) (ok bool, retryAfter time.Duration, err error) {
	if l.Allow(key) {
		return true, 0, nil
	}
	l.mu.Lock()
	tokens := l.buckets[key].tokens
	l.mu.Unlock()
	wait := time.Duration((1 - tokens) / l.rate * float64(time.Second))
	return false, max(wait, time.Nanosecond), nil
}

// Refill is Reset as a RateLimiter. It never fails.
func (l *Limiter) Refill(_ context.Context, key string) error {
	l.Reset(key)
	return nil
}

// Reset forgets key, giving it a full bucket: after a successful sign-in,
// say.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, key)
}

// Len returns the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// refill returns b's tokens as of now.
func (l *Limiter) refill(b bucket, now time.Time) float64 {
	elapsed := now.Sub(b.last).Seconds()
	if elapsed <= 0 { // a clock that stepped back gives nothing
		return b.tokens
	}
	return math.Min(l.burst, b.tokens+elapsed*l.rate)
}

// prune drops full buckets, then arbitrary ones down to lowWater if MaxKeys
// is near. The next prune waits until the map has doubled or reached MaxKeys
// (an eighth above lowWater), so the scans cost O(1) per new key overall.
func (l *Limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if l.refill(b, now) >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) > l.lowWater {
		for k := range l.buckets { // map order is random enough
			delete(l.buckets, k)
			if len(l.buckets) <= l.lowWater {
				break
			}
		}
	}
	l.pruneAt = min(l.maxKeys, max(2*len(l.buckets), minPruneAt))
}
