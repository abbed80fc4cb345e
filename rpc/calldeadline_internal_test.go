package rpc

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCallDeadline holds the call's context to what context.WithTimeout
// promises, whether something waits for it or not.
func TestCallDeadline(t *testing.T) {
	t.Parallel()
	r := New(Options{CallTimeout: 50 * time.Millisecond})
	m := &method{}
	waitDone := func(t *testing.T, ctx context.Context, want error) {
		t.Helper()
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Done did not close")
		}
		if err := ctx.Err(); !errors.Is(err, want) {
			t.Fatalf("Err %v, want %v", err, want)
		}
	}
	t.Run("expires while waited for", func(t *testing.T) {
		t.Parallel()
		dl := r.callContext(context.Background(), m)
		defer dl.cancel()
		if d, ok := dl.Deadline(); !ok || time.Until(d) > 50*time.Millisecond {
			t.Fatalf("deadline %v %v", d, ok)
		}
		if dl.Err() != nil {
			t.Fatal("ended at once")
		}
		child, stop := context.WithCancel(dl)
		defer stop()
		waitDone(t, child, context.DeadlineExceeded)
		waitDone(t, dl, context.DeadlineExceeded)
	})
	t.Run("expires unobserved", func(t *testing.T) {
		t.Parallel()
		dl := r.callContext(context.Background(), m)
		defer dl.cancel()
		dl.deadline = time.Now().Add(-time.Millisecond) // as if it had passed while nothing waited
		if err := dl.Err(); err != context.DeadlineExceeded {
			t.Fatalf("Err %v", err)
		}
		waitDone(t, dl, context.DeadlineExceeded)
	})
	t.Run("cancelled before anything waited", func(t *testing.T) {
		t.Parallel()
		dl := r.callContext(context.Background(), m)
		dl.cancel()
		if err := dl.Err(); err != context.Canceled {
			t.Fatalf("Err %v", err)
		}
		dl.deadline = time.Now().Add(-time.Millisecond) // the deadline passing later changes nothing
		waitDone(t, dl, context.Canceled)
		child, stop := context.WithCancel(dl)
		defer stop()
		waitDone(t, child, context.Canceled)
	})
	t.Run("cancelled while waited for", func(t *testing.T) {
		t.Parallel()
		dl := r.callContext(context.Background(), m)
		done := dl.Done()
		dl.cancel()
		<-done
		if err := dl.Err(); err != context.Canceled {
			t.Fatalf("Err %v", err)
		}
	})
	t.Run("parent cancelled", func(t *testing.T) {
		t.Parallel()
		parent, stop := context.WithCancel(context.WithValue(context.Background(), callKey{}, "v"))
		dl := r.callContext(parent, m)
		defer dl.cancel()
		if dl.Value(callKey{}) != "v" {
			t.Fatal("parent's value lost")
		}
		stop()
		waitDone(t, dl, context.Canceled)
		if dl.Value(callKey{}) != "v" {
			t.Fatal("parent's value lost once made")
		}
	})
	t.Run("parent's earlier deadline", func(t *testing.T) {
		t.Parallel()
		parent, stop := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer stop()
		dl := r.callContext(parent, m)
		defer dl.cancel()
		pd, _ := parent.Deadline()
		if d, _ := dl.Deadline(); !d.Equal(pd) {
			t.Fatalf("deadline %v, parent's %v", d, pd)
		}
		waitDone(t, dl, context.DeadlineExceeded)
	})
}
