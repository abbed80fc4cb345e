package fakeclock_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/internal/fakeclock"
)

func fired(ch <-chan time.Time) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestAdvanceFiresInOrder(t *testing.T) {
	t.Parallel()
	c := fakeclock.New()
	assert.Equal(t, fakeclock.Start, c.Now())
	late, early, same := c.After(3*time.Second), c.After(time.Second), c.After(3*time.Second)
	assert.True(t, fired(c.After(0)), "no wait fires at once")
	assert.Equal(t, []time.Duration{time.Second, 3 * time.Second, 3 * time.Second}, c.Pending())

	c.Advance(time.Second - time.Nanosecond)
	assert.False(t, fired(early), "not before its time")
	c.Advance(time.Nanosecond)
	assert.Equal(t, fakeclock.Start.Add(time.Second), <-early)
	assert.False(t, fired(late))
	c.Advance(time.Hour)
	assert.Equal(t, fakeclock.Start.Add(3*time.Second), <-late, "at its own time, not the clock's")
	assert.True(t, fired(same))
	assert.Empty(t, c.Pending())
	assert.Equal(t, fakeclock.Start.Add(time.Hour+time.Second), c.Now())
}

func TestWaitsAndNext(t *testing.T) {
	t.Parallel()
	c := fakeclock.New()
	done := make(chan time.Duration)
	go func() {
		for _, d := range []time.Duration{time.Minute, time.Second} {
			<-c.After(d)
		}
		done <- 0
	}()
	assert.Equal(t, []time.Duration{time.Minute}, c.Waits(t, 1))
	assert.Equal(t, time.Minute, c.Next(t))
	assert.Equal(t, time.Second, c.Next(t))
	<-done
	require.Equal(t, fakeclock.Start.Add(time.Minute+time.Second), c.Now())
}

func TestAfterFuncStopAndReset(t *testing.T) {
	t.Parallel()
	c := fakeclock.New()
	got := make(chan string, 3)
	a := c.AfterFunc(time.Second, func() { got <- "a" })
	assert.True(t, a.Reset(time.Minute), "a was pending")
	c.Advance(time.Minute - time.Nanosecond)
	assert.Empty(t, got, "Reset counts from the clock's now")
	c.Advance(time.Nanosecond)
	assert.Equal(t, "a", <-got)
	assert.False(t, a.Stop(), "a fired")
	assert.False(t, a.Reset(time.Second), "a was not pending")
	assert.True(t, a.Stop())
	c.Advance(time.Hour)
	assert.Empty(t, got, "a stopped")

	ch := c.After(2 * time.Second)
	c.AfterFunc(time.Second, func() { got <- "b" })
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, c.Waits(t, 2), "After and AfterFunc share one order")
	assert.Equal(t, time.Second, c.Next(t))
	assert.Equal(t, "b", <-got)
	assert.False(t, fired(ch))
}
