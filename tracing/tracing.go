package tracing

import (
	"context"
	"strconv"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/extra/bunotel"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/authrpc/authrpc/rpc"
)

// ScopeName is the instrumentation scope of the call spans.
const ScopeName = "github.com/authrpc/authrpc/tracing"

// Attributes of a call span, besides OpenTelemetry's rpc.system
// ("jsonrpc"), rpc.method (the method id) and, for an error,
// rpc.jsonrpc.error_code.
const (
	AttrStatus     = attribute.Key("authrpc.status")      // the answer's code: 200, 204, 400, -32801, ...
	AttrCallerKind = attribute.Key("authrpc.caller.kind") // guest, ses (a session), tok (an API token), or a host's kind
	AttrTransport  = attribute.Key("authrpc.transport")   // http or websocket
	AttrDeclined   = attribute.Key("authrpc.declined")    // true: refused before the handler ran
	AttrVoid       = attribute.Key("authrpc.void")        // true: a void call, answered before it ran
)

// unknownSpanName names the span of a call of a path that names no method:
// the path is the client's, and a span name is no place for it.
const unknownSpanName = "authrpc unknown method"

// Options configure a Tracer. The zero value is ready to use.
type Options struct {
	// TracerProvider makes the tracer of the call spans (and of the query
	// spans of QueryHook). Default: otel.GetTracerProvider(), the global
	// one the host set with otel.SetTracerProvider.
	TracerProvider trace.TracerProvider

	// Propagator reads the trace context a call came with. Default:
	// propagation.TraceContext{}, the W3C traceparent and tracestate.
	Propagator propagation.TextMapPropagator
}

func (o Options) withDefaults() Options {
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.Propagator == nil {
		o.Propagator = propagation.TraceContext{}
	}
	return o
}

// Tracer makes a span of every call of a registry. It is the registry's
// rpc.CallHook.
type Tracer struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// New hooks a span of every call into reg (rpc.Registry.Hook). Call it
// before serving.
func New(reg *rpc.Registry, opts Options) *Tracer {
	opts = opts.withDefaults()
	t := &Tracer{tracer: opts.TracerProvider.Tracer(ScopeName), prop: opts.Propagator}
	reg.Hook(t)
	return t
}

// QueryHook returns bun's OpenTelemetry hook (bunotel), which makes a span
// of every query run with a context: the queries a handler runs with its
// call's context are children of the call's span. Add it to the database
// the modules use, db = db.WithQueryHook(tracing.QueryHook(opts)), with the
// same options as New, and set users.Options.QueryHooks. The spans hold
// each query with its values left out (placeholders), never the values.
func QueryHook(opts Options) bun.QueryHook {
	opts = opts.withDefaults()
	return bunotel.NewQueryHook(bunotel.WithTracerProvider(opts.TracerProvider))
}

// StartCall starts the call's span, a child of the trace context the call
// came with (none: the root of a trace of its own). The method is named
// at the end, once known.
func (t *Tracer) StartCall(ctx context.Context, s rpc.CallStart) context.Context {
	if s.TraceParent != "" {
		ctx = t.prop.Extract(ctx, carrier{parent: s.TraceParent, state: s.TraceState})
	}
	ctx, span := t.tracer.Start(ctx, unknownSpanName,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("rpc.system", "jsonrpc"), AttrTransport.String(s.Transport)))
	// Under a key of its own too: a hook after this one may put a span of
	// its own in the context.
	return context.WithValue(ctx, spanKey{t}, span)
}

// spanKey is the context key of a Tracer's call span.
type spanKey struct{ t *Tracer }

// EndCall names the span after the method, sets what the call answered and
// ends it. An exception (an internal error or a panic) is the span's
// error; a refusal or a client's error is not the server's.
func (t *Tracer) EndCall(ctx context.Context, rec rpc.CallRecord) {
	span, _ := ctx.Value(spanKey{t}).(trace.Span)
	if span == nil || !span.IsRecording() {
		return
	}
	kind := string(rec.CallerKind)
	if kind == "" {
		kind = "guest"
	}
	attrs := []attribute.KeyValue{AttrStatus.Int(rec.Code), AttrCallerKind.String(kind)}
	if rec.Method != "" {
		span.SetName(rec.Method)
		attrs = append(attrs, attribute.String("rpc.method", rec.Method))
	}
	if rec.Error {
		attrs = append(attrs, attribute.Int("rpc.jsonrpc.error_code", rec.Code))
	}
	if rec.Declined {
		attrs = append(attrs, AttrDeclined.Bool(true))
	}
	if rec.Void {
		attrs = append(attrs, AttrVoid.Bool(true))
	}
	span.SetAttributes(attrs...)
	if rec.Exception {
		span.SetStatus(codes.Error, strconv.Itoa(rec.Code)+" "+rpc.StatusText(rec.Code))
	}
	span.End()
}

// carrier holds a call's trace context for the propagator.
type carrier struct{ parent, state string }

func (c carrier) Get(key string) string {
	switch key {
	case "traceparent":
		return c.parent
	case "tracestate":
		return c.state
	}
	return ""
}

func (carrier) Set(string, string) {}

func (c carrier) Keys() []string { return []string{"traceparent", "tracestate"} }
