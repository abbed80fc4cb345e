// Package sockets serves WebSockets three ways, so that what an idle socket
// costs and how fast one event reaches every socket can be measured side by
// side in one run:
//
//   - AuthRPC: an authrpc registry (rpc.Registry), its events published
//     with Publish;
//   - Coder: a plain coder/websocket server: the handler's goroutine reads
//     each socket, a ping waits for its pong on a goroutine (Conn.Ping), and
//     a broadcast frames nothing itself: it writes the message, encoded
//     once, from a goroutine per socket (Conn.Write);
//   - Gorilla: a plain gorilla/websocket server: the handler's goroutine
//     reads each socket with the default buffers (the server's own, taken
//     over), pings are written from a timer (WriteControl) and their pongs
//     seen by the reader.
//
// The package is its own module so that gorilla/websocket never becomes a
// dependency of the library; its benchmarks are a measurement, not a
// check. See README.md for the command and the numbers.
package sockets
