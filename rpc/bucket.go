package rpc

import (
	"context"
	"time"
)

// bucket is a token bucket of messages, for one goroutine: perSecond
// tokens a second, as many at most.
type bucket struct {
	perSecond float64
	tokens    float64
	last      time.Time
}

func newBucket(perSecond int) *bucket {
	return &bucket{perSecond: float64(perSecond), tokens: float64(perSecond), last: time.Now()}
}

// wait takes a token, waiting for one if need be; false when ctx ended first.
func (b *bucket) wait(ctx context.Context) bool {
	now := time.Now()
	b.tokens = min(b.perSecond, b.tokens+now.Sub(b.last).Seconds()*b.perSecond)
	b.last = now
	if b.tokens < 1 {
		t := time.NewTimer(time.Duration((1 - b.tokens) / b.perSecond * float64(time.Second)))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
		b.tokens, b.last = 1, time.Now()
	}
	b.tokens--
	return true
}
