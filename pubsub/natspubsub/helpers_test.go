package natspubsub_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/pubsub/natspubsub"
)

// eventWait bounds the wait for an event that takes milliseconds (a
// message or a state change between instances): generous, so that only a
// broken Sync runs it out, however loaded the machine. How long an
// invalidation takes is measured by BenchmarkInvalidationLatency.
const eventWait = 10 * time.Second

// testPrefix is a subject prefix of the test's own, so that tests (and
// other processes) sharing the machine's server do not hear each other.
func testPrefix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "test" + hex.EncodeToString(b) + ".authrpc."
}

// testLogger writes to the test's log, so that a failure shows what the
// Sync went through.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// connect starts a Sync and closes it when the test ends.
func connect(t testing.TB, url string, opts natspubsub.Options) *natspubsub.Sync {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := natspubsub.Connect(t.Context(), url, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close(context.Background())) })
	return s
}

// inbox collects what a channel's subscriber receives.
type inbox struct{ ch chan string }

func subscribe(c *natspubsub.Channel) *inbox {
	in := &inbox{ch: make(chan string, 1000)}
	c.Subscribe(func(p string) { in.ch <- p })
	return in
}

func (in *inbox) next(t testing.TB, timeout time.Duration) string {
	t.Helper()
	select { // what is there already wins over a zero timeout
	case m := <-in.ch:
		return m
	default:
	}
	select {
	case m := <-in.ch:
		return m
	case <-time.After(timeout):
		t.Fatalf("no message within %v", timeout)
		return ""
	}
}

// states collects what a channel's state subscriber is told.
type states struct{ ch chan bool }

func watch(c *natspubsub.Channel) *states {
	s := &states{ch: make(chan bool, 100)}
	c.OnState(func(listening bool) { s.ch <- listening })
	return s
}

// next returns the next state reported.
func (s *states) next(t testing.TB, timeout time.Duration) bool {
	t.Helper()
	select {
	case v := <-s.ch:
		return v
	default:
	}
	select {
	case v := <-s.ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("no state change within %v", timeout)
		return false
	}
}

// until skips states until want is reported.
func (s *states) until(t testing.TB, want bool, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case v := <-s.ch:
			if v == want {
				return
			}
		case <-deadline:
			t.Fatalf("state %v not reported within %v", want, timeout)
		}
	}
}
