// Package natspubsub carries the channels between the instances of a
// service over NATS instead of PostgreSQL's LISTEN/NOTIFY: auth
// invalidations, settings and WebSocket events, for a service whose traffic
// outgrows one database's notifications. A host passes its channels where
// it would pass a storage.Sync's; nothing else changes.
//
//	ns, err := natspubsub.Connect(ctx, "nats://127.0.0.1:4222", natspubsub.Options{})
//	if err != nil { … }
//	reg.OnShutdown(ns.Close) // before mounting the modules: it stops after them
//	reg.Auth().Share(ns.Channel("auth"))
//	reg.ShareEvents(ns.Channel("events"))
//	settings.Mount(ctx, reg, db, settings.Options{Channel: ns.Channel("settings")})
//
// A Channel publishes on, and subscribes to, the subject Options.Prefix
// followed by its name: "authrpc.auth", "authrpc.events" and
// "authrpc.settings" by default. Services that share one NATS server and
// must not hear each other take different prefixes.
//
// Delivery is at most once, as on PostgreSQL: a message published while an
// instance is not connected never reaches it. The channels therefore report
// their state (OnState): not listening from the moment the connection is
// found lost, or a subscription drops messages as a slow consumer, and
// listening again once the server has confirmed the subscriptions after a
// reconnect. An auth.Mux shared on such a channel reads through its cache
// while not listening and, when listening again, the registry checks every
// signed-in WebSocket's token anew: a signout published during the gap
// still closes its sockets.
//
// The connection reconnects by itself (nats.go's reconnection, with an
// exponential back-off between Options.MinBackoff and MaxBackoff), and
// pings the server every Options.PingInterval, so a network that dropped
// the connection without a word is found out within about three intervals.
//
// Payloads of any size travel: one up to the server's max_payload (1 MB
// unless its configuration says otherwise) as one message, a bigger one in
// chunks that each fit, which the receiving Sync puts back together before
// its subscribers see anything. It holds incomplete payloads within bounds
// (Options.MaxAssembling, MaxAssemblyBytes, ChunkTimeout); a payload that
// lost a chunk, with the connection or to a slow subscriber, is never
// delivered in part: it is dropped, its memory freed, and its channel
// reports the gap as any other. Chunks need a server that takes headers
// (NATS 2.2 and later); JetStream is not used.
//
// The package is the only one of the library that imports nats.go: a host
// that does not use NATS does not build it.
package natspubsub
