package storage_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/storage"
)

type note struct {
	bun.BaseModel `bun:"table:notes"`
	ID            int64 `bun:",pk,autoincrement"`
	Body          string
}

// A module keeps its migrations in a list and applies them at start-up;
// running them again, or from another process at the same time, is safe.
func ExampleMigrate() {
	dir, err := os.MkdirTemp("", "storage-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	// A postgres:// URL would open PostgreSQL instead.
	db, err := storage.Open(ctx, filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	migrations := []storage.Migration{
		{Version: 1, Name: "create notes", Up: storage.SQL(
			`CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL UNIQUE)`,
			`CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL UNIQUE)`,
		)},
	}
	quiet := storage.WithLogger(slog.New(slog.DiscardHandler))
	for range 2 {
		if err := storage.Migrate(ctx, db, "notes", migrations, quiet); err != nil {
			log.Fatal(err)
		}
	}

	for range 2 {
		_, err := db.NewInsert().Model(&note{Body: "hello"}).Exec(ctx)
		if storage.IsUniqueViolation(err) {
			fmt.Println("409: note exists")
		} else if err != nil {
			log.Fatal(err)
		} else {
			fmt.Println("created")
		}
	}
	// Output:
	// created
	// 409: note exists
}

// Every instance starts one Sync on the shared database and shares its
// authenticator cache over a channel of it: an Invalidate on one instance
// then reaches all, and while the instance cannot listen (PostgreSQL
// connection lost) its cache reads through. Other modules subscribe to
// channels of their own.
func ExampleNewSync() {
	dir, err := os.MkdirTemp("", "storage-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	// With a postgres:// URL, the same code spans every instance.
	db, err := storage.Open(ctx, filepath.Join(dir, "app.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	s, err := storage.NewSync(ctx, db, storage.SyncOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)

	// Without a registry: a Mux and an authenticator that says who asked.
	mux := auth.NewMux(auth.MuxOptions{})
	mux.Handle(auth.KindSession, auth.AuthenticatorFunc(func(context.Context, string) (*auth.Principal, error) {
		fmt.Println("looked up")
		return &auth.Principal{UserID: 5, Kind: auth.KindSession, TokenID: 1}, nil
	}))
	mux.Share(s.Channel("auth"))

	token, _, _ := auth.NewToken(auth.KindSession)
	mux.Authenticate(ctx, token)
	mux.Authenticate(ctx, token) // cached
	mux.Invalidate(auth.Invalidation{UserID: 5})
	mux.Authenticate(ctx, token) // looked up again, here and on every instance

	settings := s.Channel("settings")
	settings.Subscribe(func(payload string) { fmt.Println("reload settings:", payload) })
	if err := settings.Publish(ctx, "updated"); err != nil {
		log.Fatal(err)
	}
	// Output:
	// looked up
	// looked up
	// reload settings: updated
}
