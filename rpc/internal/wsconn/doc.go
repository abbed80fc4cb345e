// Package wsconn is the server end of a WebSocket (RFC 6455) as package rpc
// serves it: no extensions, a message read at a time through a reader, and
// messages written whole, in one write each.
//
// It exists for what a general WebSocket library does not offer: a message
// framed once (Frame) and written as those bytes to any number of
// connections (WriteFramed), and an idle connection that holds no buffer. A
// connection waits for the next message on a 2-byte array of its own; a
// read buffer comes from a pool when a message starts and goes back once no
// byte is left buffered, and writes go to the network connection directly.
// The goroutine that reads is the caller's: a fresh goroutine that only
// reads keeps its stack at the runtime's minimum.
//
// Pings are the caller's to send (Ping) and time; Conn answers the client's
// pings, reports its pongs (Options.OnPong), and answers its close.
package wsconn
