package rpc_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

func TestShutdownStopsInReverseOrderAfterVoidCalls(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.DiscardHandler)})
	var mu sync.Mutex
	var order []string
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	release := make(chan struct{})
	reg.Register(rpc.Method{ID: "/v1/slow", Permissions: []string{auth.Anyone}, Handler: func(ctx context.Context) error {
		<-release
		note("void call done")
		return nil
	}})
	reg.Register(rpc.Method{ID: "/v1/probe", Permissions: []string{auth.Anyone}, Handler: func(ctx context.Context) error { return nil }})
	boom := errors.New("second module failed to close")
	reg.OnShutdown(func(context.Context) error { note("first mounted"); return nil })
	reg.OnShutdown(func(context.Context) error { note("second mounted"); return boom })
	reg.OnShutdown(func(context.Context) error { note("third mounted"); return nil })

	require.Equal(t, rpc.CodeOK, rpctest.New(reg).With(rpc.HeaderVoidCall, "true").Call(t, "/v1/slow").Code)
	done := make(chan error, 1)
	go func() { done <- reg.Shutdown(context.Background()) }()
	// Shutdown refuses void calls from when it starts waiting for those running.
	require.Eventually(t, func() bool {
		return rpctest.New(reg).With(rpc.HeaderVoidCall, "true").Call(t, "/v1/probe").HTTP == 429
	}, time.Minute, time.Millisecond)
	mu.Lock()
	assert.Empty(t, order, "a module stopped while a void call ran")
	mu.Unlock()
	close(release)
	err := <-done
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, []string{"void call done", "third mounted", "second mounted", "first mounted"}, order)

	// Again: nothing more runs.
	assert.NoError(t, reg.Shutdown(context.Background()))
	assert.Len(t, order, 4)
}

func TestShutdownRunsClosersWhenVoidCallsOutlastIt(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.DiscardHandler)})
	release := make(chan struct{})
	defer close(release)
	reg.Register(rpc.Method{ID: "/v1/stuck", Permissions: []string{auth.Anyone}, Handler: func(ctx context.Context) error {
		<-release
		return nil
	}})
	closed := false
	reg.OnShutdown(func(context.Context) error { closed = true; return nil })
	rpctest.New(reg).With(rpc.HeaderVoidCall, "true").Call(t, "/v1/stuck")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, reg.Shutdown(ctx), context.DeadlineExceeded)
	assert.True(t, closed, "the modules are stopped all the same")
}
