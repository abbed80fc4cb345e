package tracing_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/tracing"
)

// A trace context as a client (or the proxy in front) sends it.
const (
	traceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentID    = "00f067aa0ba902b7"
	traceparent = "00-" + traceID + "-" + parentID + "-01"
	secret      = "s3cret-value-never-traced"
)

// fixture is a registry traced into an in-memory exporter, with methods
// that query a SQLite database through bun's hook.
type fixture struct {
	exp   *tracetest.InMemoryExporter
	ended chan string // the names of spans as they end
	url   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{exp: tracetest.NewInMemoryExporter(), ended: make(chan string, 64)}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(f.exp), sdktrace.WithSpanProcessor(endSignal(f.ended)))
	t.Cleanup(func() { _ = tp.Shutdown(ctx) })
	opts := tracing.Options{TracerProvider: tp}

	db, err := storage.Open(ctx, storagetest.SQLiteDSN(t))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	db = db.WithQueryHook(tracing.QueryHook(opts))

	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	reg.Register(rpc.Method{ID: "/v1/query", Title: "Query", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) (int, error) {
			var n int
			err := db.NewRaw("SELECT length(?)", secret).Scan(ctx, &n)
			return n, err
		}})
	reg.Register(rpc.Method{ID: "/v1/fail", Title: "Fail", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) error { return errors.New("connection to db.internal:5432 refused") }})
	reg.Register(rpc.Method{ID: "/v1/root", Title: "Root", Permissions: []string{auth.Root},
		Handler: func(ctx context.Context) error { return nil }})
	tracing.New(reg, opts)
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// wait waits until a span named name has ended, and returns it.
func (f *fixture) wait(t *testing.T, name string) tracetest.SpanStub {
	t.Helper()
	for {
		for _, s := range f.exp.GetSpans() {
			if s.Name == name {
				return s
			}
		}
		<-f.ended // the next span that ends
	}
}

// endSignal is a span processor that sends the name of every span ended.
type endSignal chan string

func (e endSignal) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (e endSignal) OnEnd(s sdktrace.ReadOnlySpan)                   { e <- s.Name() }
func (e endSignal) Shutdown(context.Context) error                  { return nil }
func (e endSignal) ForceFlush(context.Context) error                { return nil }

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// checkChildOfTraceparent checks that the call span is the child of the
// traceparent sent, and the query span the call span's.
func checkChildOfTraceparent(t *testing.T, f *fixture, transport string) {
	t.Helper()
	call := f.wait(t, "/v1/query")
	assert.Equal(t, traceID, call.Parent.TraceID().String())
	assert.Equal(t, parentID, call.Parent.SpanID().String())
	assert.True(t, call.Parent.IsRemote())
	assert.Equal(t, traceID, call.SpanContext.TraceID().String(), "the call joins the caller's trace")
	assert.Equal(t, trace.SpanKindServer, call.SpanKind)
	a := attrs(call)
	assert.Equal(t, "/v1/query", a["rpc.method"].AsString())
	assert.Equal(t, "jsonrpc", a["rpc.system"].AsString())
	assert.Equal(t, int64(200), a[tracing.AttrStatus].AsInt64())
	assert.Equal(t, "guest", a[tracing.AttrCallerKind].AsString())
	assert.Equal(t, transport, a[tracing.AttrTransport].AsString())

	var query *tracetest.SpanStub
	for _, s := range f.exp.GetSpans() {
		if s.Parent.SpanID() == call.SpanContext.SpanID() {
			query = &s
		}
	}
	require.NotNil(t, query, "the handler's query is a child of the call")
	assert.Equal(t, trace.SpanKindClient, query.SpanKind)
	for _, kv := range query.Attributes {
		assert.NotContains(t, kv.Value.String(), secret, "%s holds a query's value", kv.Key)
	}
}

func TestHTTPSpanIsChildOfTraceparent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req, err := http.NewRequest(http.MethodPost, f.url+"/v1/query", strings.NewReader(`[]`))
	require.NoError(t, err)
	req.Header.Set("Traceparent", traceparent)
	req.Header.Set("Tracestate", "vendor=1")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	checkChildOfTraceparent(t, f, "http")
	assert.Equal(t, "vendor=1", f.wait(t, "/v1/query").Parent.TraceState().String())
}

func dial(t *testing.T, f *fixture) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(f.url, "http")+"/", &websocket.DialOptions{Subprotocols: []string{rpc.Subprotocol}})
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func TestWebSocketSpanIsChildOfTraceparent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := dial(t, f)
	ctx := context.Background()
	require.NoError(t, c.Write(ctx, websocket.MessageText,
		[]byte(`{"jsonrpc":"2.0","method":"/v1/query","params":[],"id":1,"traceparent":"`+traceparent+`"}`)))
	_, msg, err := c.Read(ctx)
	require.NoError(t, err)
	require.Contains(t, string(msg), `"status":200`)
	checkChildOfTraceparent(t, f, "websocket")
}

// A MessagePack frame carries the trace context under the same keys.
func TestWebSocketMsgpackSpanIsChildOfTraceparent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := dial(t, f)
	ctx := context.Background()
	frame, err := msgpack.Marshal(map[string]any{"jsonrpc": "2.0", "method": "/v1/query", "params": []any{}, "id": 1, "traceparent": traceparent})
	require.NoError(t, err)
	require.NoError(t, c.Write(ctx, websocket.MessageBinary, frame))
	_, _, err = c.Read(ctx)
	require.NoError(t, err)
	checkChildOfTraceparent(t, f, "websocket")
}

// Without a traceparent, or with one that is not valid, a call's span
// starts a trace of its own.
func TestSpanWithoutTraceparentIsARoot(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tp := range []string{"", "00-nonsense", "00-" + traceID + "-" + parentID} {
		req, err := http.NewRequest(http.MethodPost, f.url+"/v1/query", strings.NewReader(`[]`))
		require.NoError(t, err)
		if tp != "" {
			req.Header.Set("Traceparent", tp)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		call := f.wait(t, "/v1/query")
		assert.False(t, call.Parent.IsValid(), "traceparent %q", tp)
		assert.NotEqual(t, traceID, call.SpanContext.TraceID().String())
		f.exp.Reset()
	}
}

// An exception is the span's error, told generically; a declined call and
// a path that names no method are spans too, which name no path.
func TestSpanStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, path := range []string{"/v1/fail", "/v1/root", "/v1/nothing/secret-path"} {
		res, err := http.Post(f.url+path, "application/json", strings.NewReader(`[]`))
		require.NoError(t, err)
		res.Body.Close()
	}
	fail := f.wait(t, "/v1/fail")
	assert.Equal(t, codes.Error, fail.Status.Code)
	assert.Equal(t, "500 Internal Server Error", fail.Status.Description)
	assert.Equal(t, int64(500), attrs(fail)["rpc.jsonrpc.error_code"].AsInt64())

	root := f.wait(t, "/v1/root")
	assert.Equal(t, codes.Unset, root.Status.Code)
	assert.True(t, attrs(root)[tracing.AttrDeclined].AsBool())
	assert.Equal(t, int64(-32801), attrs(root)[tracing.AttrStatus].AsInt64())

	unknown := f.wait(t, "authrpc unknown method")
	assert.Equal(t, int64(-32809), attrs(unknown)[tracing.AttrStatus].AsInt64())
	for _, s := range f.exp.GetSpans() {
		assert.NotContains(t, s.Name, "secret-path")
		for _, kv := range s.Attributes {
			assert.NotContains(t, kv.Value.String(), "secret-path")
			assert.NotContains(t, kv.Value.String(), "db.internal")
		}
	}
}

// A frame's traceparent that is not a string is ignored as any unknown
// member is: the call is answered, and its span starts a trace of its own.
func TestWebSocketTraceparentNotAString(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := dial(t, f)
	ctx := context.Background()
	require.NoError(t, c.Write(ctx, websocket.MessageText,
		[]byte(`{"jsonrpc":"2.0","method":"/v1/query","params":[],"id":1,"traceparent":{"id":5},"tracestate":7}`)))
	_, msg, err := c.Read(ctx)
	require.NoError(t, err)
	require.Contains(t, string(msg), `"status":200`)
	assert.False(t, f.wait(t, "/v1/query").Parent.IsValid())
}
