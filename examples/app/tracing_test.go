package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/tracing"
)

// A traceparent sent in, over HTTP and over a WebSocket, comes back as the
// parent of the call's exported span, whose queries are its children.
func TestTraceparentIsTheParentOfTheCallSpan(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	a := startApp(t, storagetest.SQLiteDSN(t), func(c *config) { c.TracerProvider = tp })
	root := a.signin(t, "root", "root-password-for-tests")

	// callSpan returns the span of the call of method in trace id.
	callSpan := func(t *testing.T, traceID, method string) tracetest.SpanStub {
		t.Helper()
		var span *tracetest.SpanStub
		until(t, "the call's span exported", func() bool {
			for _, s := range exp.GetSpans() {
				if s.Name == method && s.SpanContext.TraceID().String() == traceID {
					span = &s
					return true
				}
			}
			return false
		})
		return *span
	}
	check := func(t *testing.T, traceID, parentID, transport string) {
		t.Helper()
		call := callSpan(t, traceID, "/v1/admin/users/read")
		assert.Equal(t, parentID, call.Parent.SpanID().String())
		assert.True(t, call.Parent.IsRemote())
		have := map[string]string{}
		for _, kv := range call.Attributes {
			have[string(kv.Key)] = kv.Value.String()
		}
		assert.Equal(t, "/v1/admin/users/read", have["rpc.method"])
		assert.Equal(t, "200", have[string(tracing.AttrStatus)])
		assert.Equal(t, "ses", have[string(tracing.AttrCallerKind)])
		assert.Equal(t, transport, have[string(tracing.AttrTransport)])
		queries := 0
		for _, s := range exp.GetSpans() {
			if s.Parent.SpanID() == call.SpanContext.SpanID() {
				queries++
			}
		}
		assert.Positive(t, queries, "the handler's queries are children of the call's span")
	}

	t.Run("http", func(t *testing.T) {
		const traceID, parentID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
		req, err := http.NewRequest(http.MethodPost, a.url+"/v1/admin/users/read", strings.NewReader(`[]`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+root)
		req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
		require.Equal(t, 200, a.send(t, req).HTTP)
		check(t, traceID, parentID, "http")
	})
	t.Run("websocket", func(t *testing.T) {
		const traceID, parentID = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
		ctx := context.Background()
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(a.url, "http")+"/", &websocket.DialOptions{Subprotocols: []string{rpc.Subprotocol, root}})
		require.NoError(t, err)
		defer c.CloseNow()
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(
			`{"jsonrpc":"2.0","method":"/v1/admin/users/read","params":[],"id":1,"traceparent":"00-`+traceID+`-`+parentID+`-01"}`)))
		_, msg, err := c.Read(ctx)
		require.NoError(t, err)
		require.Contains(t, string(msg), `"status":200`)
		check(t, traceID, parentID, "websocket")
	})
}

// -trace takes stdout or nothing.
func TestTraceFlag(t *testing.T) {
	t.Parallel()
	_, err := tracerProvider(config{Trace: "jaeger"})
	assert.ErrorContains(t, err, "stdout")
	tp, err := tracerProvider(config{Trace: "stdout"})
	require.NoError(t, err)
	require.IsType(t, &sdktrace.TracerProvider{}, tp)
	require.NoError(t, tp.(*sdktrace.TracerProvider).Shutdown(context.Background()))
	tp, err = tracerProvider(config{})
	require.NoError(t, err)
	assert.Nil(t, tp)
}
