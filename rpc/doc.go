// Package rpc is the heart of the library: a registry of methods served over
// HTTP in the JSON-RPC shaped wire format that the library's JavaScript
// clients speak.
//
// A host registers methods as typed Go functions. Each positional parameter
// gets a JSON Schema reflected from its Go type (struct tags carry
// constraints), every call is checked against those schemas before the
// handler runs, and each method lists the permission tags a caller must pass.
// A schema made only of what reflection and jsonschema tags produce is
// compiled at Register time into a check that reads the raw bytes once; any
// other schema, and any value that check refuses, goes to the full JSON
// Schema validator, which words the message.
//
// The registry is an http.Handler: the request path below its mount point is
// the method id. A JSON-RPC 2.0 request object in the body may name the
// method instead, but only at the mount root ("/" below the mount point);
// on a method's own path it names that method or none, and elsewhere it
// answers -32809, so rules applied by path hold for every call.
//
//	reg := rpc.New(rpc.Options{Prefix: "/api"})
//	reg.Register(rpc.Method{
//		ID:          "/v1/hello",
//		Title:       "Say hello",
//		Permissions: []string{auth.Anyone},
//		Params:      []rpc.Param{{Name: "name"}},
//		Handler: func(ctx context.Context, name string) (string, error) {
//			return "Hello, " + name, nil
//		},
//	})
//	http.ListenAndServe("127.0.0.1:8080", reg) // POST /api/v1/hello
//
// A call's caller comes from its bearer token (Authorization: Bearer …),
// resolved by the authenticators on Registry.Auth. A token that does not
// authenticate (malformed, unknown, expired, revoked) makes the caller a
// guest, and the HTTP answer carries WWW-Authenticate: Bearer
// error="invalid_token" (RFC 6750), so that a client can tell "sign in
// again" from a signed-in caller's "not allowed".
//
// Handlers answer with a value (sent as the result's data), an *Error (sent
// with its code and message), or any other error (an opaque internal error,
// logged with the method id). List methods take read.Options (package
// rpc/read), declared per method with a read.Spec in Param.Read; package
// storage/readsql applies them to a bun query.
//
// Middleware (Options.Middleware for every method, Method.Middleware for
// one) wraps a call once it passed the permission and parameter checks, as
// func(http.Handler) http.Handler wraps a request: it sees the method, the
// caller and the decoded parameters (Call), and may refuse or time it.
//
// A method with RequireAuthorization (or made to require it later with
// Registry.RequireAuthorization, by a host that did not define it) refuses
// a caller whose auth.Principal.AuthorizedAt is older than
// Options.AuthorizedMaxAge (5 minutes) with 403 and
// error.data.meta.authorization_required true: a step-up, which the users
// module's /v1/session/authorize grants to a session. API tokens are never
// authorized. OnActivity tells a module of every signed-in call, on the
// call's goroutine, as the users module keeps its sessions' last activity.
//
// Shutdown closes the sockets, waits for the void calls and then stops, last
// first, what OnShutdown was given: each module's Mount gives it the
// module's Close.
//
// The registry also renders its own reference, as Markdown (WriteMarkdown)
// and as an OpenAPI 3.1 document (OpenAPI). Methods registered through a
// Section (Registry.Section) are listed under its title; others under their
// id's directory.
//
// At its mount root the registry also accepts WebSockets (subprotocol
// "jsonrpc_2.0", the bearer token offered second), whose calls run through
// the same pipeline as HTTP and answer the same bodies, in JSON text frames
// or MessagePack binary ones (WebSocketOptions). Whatever carried it, a call
// is authenticated, checked against the method's permissions, rate limit
// and bounds on calls in flight, its parameters checked and decoded, its
// handler run (or run in the background, for a void call), its answer sent
// in the encoding the call came in, and its CallRecord handed to the
// observers. Hooks (CallHook, Registry.Hook) see every call from before it
// is authenticated to after it is answered, with the W3C trace context it
// came with (the traceparent header, or a WebSocket frame's member): the
// metrics and tracing packages are hooks. Publish sends events to the
// sockets of groups of callers, on every instance with ShareEvents; the
// sockets of an auth the auth cache invalidates are closed with 4000, unless
// the invalidation is a refresh (auth.Invalidation.Refresh).
// Bodies of type application/msgpack are read and answered in MessagePack.
//
// Options.Clock is the time the registry reads and waits on (the call
// records' times, rate limits, a socket's message rate, pings and expiry);
// a test passes rpctest.Clock and moves it, so that it waits for no time
// to pass.
//
// What a request may cost is bounded before it is allocated: a MessagePack
// body or message converts to JSON within the limit a JSON body has, a body
// is split into at most one more parameter than a method takes (64), and a
// socket subscribes to at most MaxSubscriptions event names; Refusals
// counts what the bounds refused.
package rpc
