package rpc_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// recordingHook keeps what it saw, and sends every record as it ends.
type recordingHook struct {
	mu     sync.Mutex
	starts []rpc.CallStart
	ended  chan rpc.CallRecord
}

type hookKey struct{}

func (h *recordingHook) StartCall(ctx context.Context, s rpc.CallStart) context.Context {
	h.mu.Lock()
	h.starts = append(h.starts, s)
	h.mu.Unlock()
	return context.WithValue(ctx, hookKey{}, "started")
}

func (h *recordingHook) EndCall(ctx context.Context, rec rpc.CallRecord) {
	if ctx.Value(hookKey{}) != "started" {
		panic("EndCall without StartCall's context")
	}
	h.ended <- rec
}

// Every call reaches the hook once at its start and once at its end, with
// the context StartCall returned, whatever it answered: accepted,
// declined, void, of no method, the registry's own /ping; a method with
// the call log off too. The handler runs in StartCall's context.
func TestHookSeesEveryCall(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var sawHookCtx bool
	reg.Register(rpc.Method{ID: "/v1/quiet", Title: "Quiet", Permissions: []string{auth.Anyone}, NoCallLog: true,
		Handler: func(ctx context.Context) error { sawHookCtx = ctx.Value(hookKey{}) == "started"; return nil }})
	reg.Register(rpc.Method{ID: "/v1/root", Title: "Root", Permissions: []string{auth.Root},
		Handler: func(ctx context.Context) error { return nil }})
	h := &recordingHook{ended: make(chan rpc.CallRecord, 16)}
	reg.Hook(h)
	srv := httptest.NewServer(reg)
	defer srv.Close()

	post := func(path string, header ...string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(`[]`))
		require.NoError(t, err)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
	}
	post("/v1/quiet", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate", "a=1")
	assert.Equal(t, "/v1/quiet", (<-h.ended).Method)
	assert.True(t, sawHookCtx)

	post("/v1/root")
	rec := <-h.ended
	assert.Equal(t, "/v1/root", rec.Method)
	assert.True(t, rec.Declined)

	post("/v1/quiet", rpc.HeaderVoidCall, "true")
	rec = <-h.ended
	assert.True(t, rec.Void)

	post("/v1/not-a-method")
	rec = <-h.ended
	assert.Equal(t, "", rec.Method)
	assert.Equal(t, rpc.CodeMethodNotFound, rec.Code)

	post("/ping")
	assert.Equal(t, rpc.MethodPing, (<-h.ended).Method)

	h.mu.Lock()
	defer h.mu.Unlock()
	require.Len(t, h.starts, 5)
	assert.Equal(t, rpc.CallStart{Transport: rpc.TransportHTTP,
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", TraceState: "a=1"}, h.starts[0])
	assert.Equal(t, rpc.CallStart{Transport: rpc.TransportHTTP}, h.starts[1])
	select {
	case rec := <-h.ended:
		t.Fatalf("a call ended twice: %+v", rec)
	default:
	}
}
