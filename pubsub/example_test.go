package pubsub_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/authrpc/authrpc/pubsub"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// The channel the library ships is a Channel, and a Channel is what the
// registry's events take.
var (
	_ pubsub.Channel   = (*storage.Channel)(nil)
	_ rpc.EventChannel = pubsub.Channel(nil)
)

// A storage.Sync hands out Channels by name. On SQLite, which one process
// serves, a payload reaches the subscribers of the same Sync; on PostgreSQL
// it reaches every instance on the database.
func Example() {
	dir, err := os.MkdirTemp("", "pubsub-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	sync, err := storage.NewSync(ctx, db, storage.SyncOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer sync.Close(ctx)

	var ch pubsub.Channel = sync.Channel("notes")
	got := make(chan string, 1)
	ch.OnState(func(listening bool) { fmt.Println("listening:", listening) })
	ch.Subscribe(func(payload string) { got <- payload })
	if err := ch.Publish(ctx, "note 12 changed"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-got)
	// Output:
	// listening: true
	// note 12 changed
}
