// Package client calls the methods of an authrpc server (or any server of
// its wire format) from Go, with one API over HTTP and over a WebSocket.
//
//	c, err := client.New("ws://127.0.0.1:8080/api/", client.Options{Token: token})
//	…
//	defer c.Close()
//	users, err := client.Call[[]User](ctx, c, "/v1/admin/users/read", map[string]any{"limit": 5})
//	var e *client.Error
//	if errors.As(err, &e) && e.Code == 401 { … }
//
// The URL's scheme picks the transport. With http or https each call is a
// POST of its positional parameters to the method's path below the mount
// point. With ws or wss the client keeps one socket open at the mount
// point, offering the subprotocols "jsonrpc_2.0" and the token; calls on it
// are JSON-RPC request objects, answered out of order by id. It connects
// at once and again after every disconnect, waiting a backoff with jitter
// between tries (Options.Reconnect); calls made while it is down wait for
// it until their context ends, and calls out when it drops fail with a
// *CloseError. A server-side signout closes the socket with 4000, which
// the client reports as EventSignout before it reconnects.
//
// Answers are the same whichever the transport: a *Result (status, data,
// meta) or an *Error (code, message, meta). Data is kept as JSON text and
// decoded on demand (Result.Decode, Call), by the rules of encoding/json
// even when the wire carried MessagePack (Options.Encoding), so one set of
// json-tagged types serves both encodings.
//
// Events pushed by the server arrive over a WebSocket: On runs a handler
// for an event name, Notify sends to a channel. The client subscribes to
// the names it has handlers for (/subscribe), and again after every
// reconnect. VoidCall sends a call that is not answered; Publish sends an
// event to the server's host hook.
//
// The package depends on the wire format only, not on the server's
// packages, so a program that only calls an API does not build the server.
package client
