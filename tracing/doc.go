// Package tracing makes an OpenTelemetry (go.opentelemetry.io/otel) span of
// every call of an rpc.Registry, over HTTP and WebSocket, and of the
// database queries the handlers run, as children of the call's span. It is
// a package of its own so that rpc and the modules do not depend on
// OpenTelemetry.
//
//	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter)) // an OTLP exporter, say
//	opts := tracing.Options{TracerProvider: tp}
//	db = db.WithQueryHook(tracing.QueryHook(opts)) // before the modules mount
//	tracing.New(reg, opts)
//
// A call's span is a child of the W3C trace context it came with, so a
// trace started in a browser, a proxy or another service goes on through
// the call. Over HTTP it is the traceparent and tracestate headers. Over
// WebSocket it is members of the same names in the call's frame, beside
// the JSON-RPC members (a MessagePack frame has the same keys):
//
//	{"jsonrpc":"2.0","method":"/v1/profile/read","params":[],"id":7,
//	 "traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
//
// A server that does not trace ignores the members, and a client that
// sends none is unchanged: the frame format stays the seed's. Events and
// the socket's own messages (/subscribe, /event) carry none.
//
// Without a trace context, or with one that does not parse, a span starts
// a trace of its own (what the TracerProvider's sampler then decides).
//
// A span is named after the method id (a path that names no method gives
// the span "authrpc unknown method", never the path), of kind server, and
// holds rpc.system "jsonrpc", rpc.method, authrpc.status (the answer's
// code), authrpc.caller.kind (guest, ses for a session, tok for an API
// token, or a host's kind), authrpc.transport (http or websocket), and for
// an error rpc.jsonrpc.error_code; authrpc.declined and authrpc.void when
// they hold. An exception (an internal error or a panic) sets the span's
// status to Error with the code's generic text: like the answer, a span
// holds no error text, which may name hosts or queries. It holds no user
// id or token either.
//
// QueryHook is bun's own OpenTelemetry hook
// (github.com/uptrace/bun/extra/bunotel). Its spans hold each query with
// placeholders in place of its values, so no password hash, token digest
// or address reaches the traces. bun runs it only around the queries it
// builds: tell the users module the database is traced
// (users.Options.QueryHooks), or its read of a user by id runs a prepared
// statement on SQLite that makes no span. A record the module answers
// from its cache (profile/read) runs no query at all.
package tracing
