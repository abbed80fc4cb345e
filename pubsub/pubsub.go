// Package pubsub names what the library's caches and sockets need from a
// publish/subscribe channel between the instances of a service: a Channel.
// It holds no implementation and depends on nothing, so that packages
// without a database (auth, rpc) can take a channel, and the ones the
// library ships satisfy it without those packages depending on them:
// storage.Channel (a channel of a storage.Sync, over PostgreSQL's
// LISTEN/NOTIFY) and natspubsub.Channel (over NATS, in a package of its
// own so that only a host that uses NATS builds it).
//
//	sync, _ := storage.NewSync(ctx, db, storage.SyncOptions{})
//	reg.Auth().Share(sync.Channel("auth"))
//	settings.Mount(ctx, reg, db, settings.Options{Channel: sync.Channel("settings")})
package pubsub

import "context"

// Channel carries text payloads between the instances of a service.
// Delivery is at most once: a payload published while an instance is not
// listening never reaches it, and OnState says when that may be happening,
// so that a subscriber that caches can stop trusting its cache.
type Channel interface {
	// Publish sends payload to the channel's subscribers in every instance.
	Publish(ctx context.Context, payload string) error

	// Subscribe calls fn with every payload published on the channel by
	// the other instances; fn may also get this instance's own. Calls of
	// fn must return quickly.
	Subscribe(fn func(payload string))

	// OnState calls fn with whether payloads published by the other
	// instances reach this one: at once, and again at every change.
	OnState(fn func(listening bool))
}
