package auth_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/auth"
)

// Caching follows SetCaching and the shared channel's state, and OnResync's
// watchers hear that the channel listens again before the Mux caches
// again, so that caches of their own kept by OnInvalidate drop what the
// lost invalidations may have left stale before anything is cached anew.
func TestMuxCachingAndResync(t *testing.T) {
	t.Parallel()
	assert.Equal(t, auth.DefaultCacheTTL, auth.NewMux(auth.MuxOptions{}).TTL())
	m := auth.NewMux(auth.MuxOptions{TTL: time.Minute})
	assert.Equal(t, time.Minute, m.TTL())
	assert.True(t, m.Caching())
	m.SetCaching(false)
	assert.False(t, m.Caching())
	m.SetCaching(true)

	var resyncs []bool // Caching, as each resync saw it
	m.OnResync(func() { resyncs = append(resyncs, m.Caching()) })
	b := newBus()
	m.Share(b)
	assert.True(t, m.Caching(), "listening")
	assert.Empty(t, resyncs, "never deaf yet")
	b.setListening(false)
	assert.False(t, m.Caching(), "deaf")
	b.setListening(true)
	assert.True(t, m.Caching(), "listening again")
	assert.Equal(t, []bool{false}, resyncs, "told once, before caching again")
}
