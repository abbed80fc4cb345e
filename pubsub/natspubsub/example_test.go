package natspubsub_test

import (
	"context"
	"log"

	"github.com/authrpc/authrpc/pubsub/natspubsub"
	"github.com/authrpc/authrpc/rpc"
)

// A host moves its channels between instances from PostgreSQL to NATS by
// taking them from a natspubsub.Sync instead of a storage.Sync; the rest of
// its code stays as it is. (Settings take ns.Channel("settings") the same
// way, through settings.Options.Channel.)
func Example() {
	ctx := context.Background()
	ns, err := natspubsub.Connect(ctx, "nats://127.0.0.1:4222", natspubsub.Options{})
	if err != nil {
		log.Fatal(err)
	}
	reg := rpc.New(rpc.Options{})
	reg.OnShutdown(ns.Close) // first in, last out: after the modules that use it
	reg.Auth().Share(ns.Channel("auth"))
	reg.ShareEvents(ns.Channel("events"))
	// … mount the modules, serve reg …
	defer reg.Shutdown(ctx)
}
