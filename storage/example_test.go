package storage_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/uptrace/bun"

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
