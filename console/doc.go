// Package console serves a browser admin console for the registry: sign in,
// users, the caller's API tokens, settings, the call log with live charts,
// the audit trail and the profile.
//
// The console is a handful of hand-written JavaScript modules and one style
// sheet embedded in the binary; nothing is built. It is a client of the API
// like any other: it calls the registry over WebSocket (JSON text frames,
// subprotocols "jsonrpc_2.0, <token>"), falls back to HTTP POST when the
// socket cannot open, and refreshes on events such as settings/update. It
// shows only what the signed-in caller's permissions allow, and the server
// still checks every call. The Users, Settings, Call log and Audit trail
// pages need Options.AdminPermission ("admin" by default, as in the
// modules); API tokens, Profile and Security (the caller's sessions) are
// every signed-in user's.
//
// Mount it under a path of its own, on the same origin as the API:
//
//	mux.Handle("/admin/", console.New(console.Options{API: "/api/"}))
//
// Every response carries a Content-Security-Policy that allows scripts,
// styles and images from the console's origin only and connections to it
// (HTTP and WebSocket); there are no inline scripts or styles. The session
// token is kept in sessionStorage: a reload keeps the operator signed in,
// other origins cannot read it, and it is gone when the tab closes.
package console
