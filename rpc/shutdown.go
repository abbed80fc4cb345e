package rpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"
)

// OnShutdown adds fn to what Shutdown stops, after the void calls and open
// sockets: the functions added run in the reverse order of their adding, so
// a module's Mount adds its Close and the modules stop in the reverse order
// of mounting, each before what it was mounted on. A host adds its own (a
// storage.Sync's Close, added before the modules, stops last).
func (r *Registry) OnShutdown(fn func(ctx context.Context) error) {
	r.shutdownMu.Lock()
	r.onShutdown = append(r.onShutdown, fn)
	r.shutdownMu.Unlock()
}

// Shutdown closes the open WebSockets, refuses further void calls and
// waits, until ctx ends, for those running in the background; then it runs
// the functions given to OnShutdown, last added first, with ctx (even when
// the void calls did not finish in time, so that resources are released).
// It returns every error, joined. Call it after http.Server.Shutdown;
// calling it again runs nothing more.
func (r *Registry) Shutdown(ctx context.Context) error {
	err := r.drain(ctx)
	r.shutdownMu.Lock()
	fns := r.onShutdown
	r.onShutdown = nil
	r.shutdownMu.Unlock()
	errs := []error{err}
	for i := len(fns) - 1; i >= 0; i-- {
		errs = append(errs, fns[i](ctx))
	}
	return errors.Join(errs...)
}

// drain closes the sockets and waits for the void calls.
func (r *Registry) drain(ctx context.Context) error {
	// http.Server.Shutdown leaves hijacked connections alone.
	r.hub.closeAll(websocket.StatusGoingAway, "server shutting down")
	r.voidMu.Lock()
	r.voidClosed = true
	r.voidMu.Unlock()
	done := make(chan struct{})
	go func() {
		r.voidWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rpc: shutdown: void calls still running: %w", ctx.Err())
	}
}
