// Package rpctest calls methods of an http.Handler that serves the library's
// wire format (normally an *rpc.Registry) with real JSON, in process, and
// checks every answer against the format, as net/http/httptest does for
// plain handlers.
//
//	c := rpctest.New(reg)
//	a := c.As(token).Call(t, "/v1/admin/users/read", map[string]any{"limit": 5})
//	if a.Code != 200 { … }
//	var users []User
//	a.Decode(t, &users)
//
// A Client carries what every request of a caller shares: a bearer token
// (As), extra headers (With) and a client address (From). Each of these
// returns a copy, so one Client per caller can be kept and used from any
// goroutine. Call marshals its parameters as the positional array; Post
// sends a raw body (malformed JSON, a value that is not an array, a JSON-RPC
// request object); Do sends any request (GET, multipart, odd content types).
//
// Every answer is checked for what the wire format promises, and the test
// fails at once, with the raw body, when one of these does not hold:
//
//   - Content-Type is application/json and the body is a JSON object with
//     "jsonrpc": "2.0";
//   - it holds exactly one of "result" and "error", which is an object;
//   - a result has an integer "status", a string "status_text",
//     "exception": false and an object "meta";
//   - an error has an integer "code", a message that is not empty, and
//     "data" with a boolean "exception" (true exactly for code 500) and an
//     object "meta";
//   - the HTTP status is rpc.HTTPStatus of the code (204 is sent as 200,
//     -32808 as 400, and so on).
//
// What an answer should say beyond that (its code, message and data) is the
// test's to check, through the fields of Answer.
//
// ReadAnswer makes the same checks without a test: for answers read from a
// real server, and for goroutines other than the test's, which may not fail
// it.
//
// Serve puts a handler on a real socket for a test, and hands out Go
// clients (package client) of it over HTTP and WebSocket:
//
//	s := rpctest.Serve(t, reg, "/api")
//	ws := s.WebSocket(client.Options{Token: token})
//	ws.Notify("settings/update", updates)
//
// Clock is an rpc.Clock (rpc.Options.Clock) that moves only when the test
// moves it: a test of a socket's pings, its message rate or a session's
// expiry sees each timer the registry sets (Timers) and fires it (Advance,
// Next), and waits for no time to pass.
//
//	clock := rpctest.NewClock()
//	reg := rpc.New(rpc.Options{Clock: clock})
//	…
//	clock.Advance(time.Hour) // the session ends: its sockets close with 4000
package rpctest
