package rpc

import (
	"context"
	"time"
)

// bucket is a token bucket of messages, for one goroutine: perSecond
// tokens a second, as many at most.
type bucket struct {
	clock     Clock
	perSecond float64
	tokens    float64
	last      time.Time
}

func newBucket(perSecond int, clock Clock) *bucket {
	return &bucket{clock: clock, perSecond: float64(perSecond), tokens: float64(perSecond), last: clock.Now()}
}

// wait takes a token, waiting for one if need be; false when ctx ended first.
func (b *bucket) wait(ctx context.Context) bool {
	now := b.clock.Now()
	b.tokens = min(b.perSecond, b.tokens+now.Sub(b.last).Seconds()*b.perSecond)
	b.last = now
	if b.tokens < 1 {
		refilled := make(chan struct{})
		t := b.clock.AfterFunc(time.Duration((1-b.tokens)/b.perSecond*float64(time.Second)), func() { close(refilled) })
		select {
		case <-refilled:
		case <-ctx.Done():
			t.Stop()
			return false
		}
		b.tokens, b.last = 1, b.clock.Now()
	}
	b.tokens--
	return true
}
