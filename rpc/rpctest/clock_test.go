package rpctest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/rpc/rpctest"
)

func TestClock(t *testing.T) {
	t.Parallel()
	c := rpctest.NewClock()
	assert.Equal(t, rpctest.ClockStart, c.Now())
	fired := make(chan string, 4)
	a := c.AfterFunc(2*time.Second, func() { fired <- "a" })
	c.AfterFunc(time.Second, func() { fired <- "b" })
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, c.Timers(t, 2))

	assert.Equal(t, time.Second, c.Next(t))
	assert.Equal(t, "b", <-fired)
	assert.Equal(t, rpctest.ClockStart.Add(time.Second), c.Now())

	assert.True(t, a.Reset(time.Minute), "a was pending")
	c.Advance(59 * time.Second)
	assert.Equal(t, []time.Duration{time.Minute}, c.Pending(), "not yet")
	c.Advance(time.Second)
	assert.Equal(t, "a", <-fired)
	assert.False(t, a.Stop(), "a fired")

	b := c.AfterFunc(time.Hour, func() { fired <- "never" })
	assert.True(t, b.Stop())
	c.Advance(2 * time.Hour)
	assert.Empty(t, c.Pending())
	assert.Empty(t, fired)

	c.AfterFunc(0, func() { fired <- "now" })
	assert.Equal(t, "now", <-fired, "a timer of no duration fires at once")
}
