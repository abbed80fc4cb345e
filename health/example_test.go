package health_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/authrpc/authrpc/health"
	"github.com/authrpc/authrpc/storage"
)

func Example() {
	dir, _ := os.MkdirTemp("", "health-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(dir, "app.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	notes := "CREATE TABLE notes (id BIGINT PRIMARY KEY, text TEXT NOT NULL)"
	err = storage.Migrate(ctx, db, "notes", []storage.Migration{{Version: 1, Name: "notes", Up: storage.SQL(notes, notes)}},
		storage.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	sync, err := storage.NewSync(ctx, db, storage.SyncOptions{})
	if err != nil {
		panic(err)
	}
	defer sync.Close(ctx)
	applied, err := storage.ReadApplied(ctx, db) // after mounting every module
	if err != nil {
		panic(err)
	}

	var draining atomic.Bool // a check of the host's own
	ready := health.NewReadiness(health.Options{Logger: slog.New(slog.DiscardHandler)},
		health.Check{Name: "database", Func: health.Ping(db)},
		health.Check{Name: "migrations", Func: func(ctx context.Context) error { return applied.Check(ctx, db) }},
		health.Check{Name: "channel", Func: health.Listening(sync)},
		health.Check{Name: "draining", Func: func(context.Context) error {
			if draining.Load() {
				return errors.New("shutting down")
			}
			return nil
		}},
	)
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", health.Liveness())
	mux.Handle("GET /readyz", ready)

	probe := func(path string) {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Print(w.Code, " ", w.Body.String())
	}
	probe("/healthz")
	probe("/readyz")
	draining.Store(true)
	probe("/readyz")
	// Output:
	// 200 {"status":"ok"}
	// 200 {"status":"ready","checks":{"database":"ok","migrations":"ok","channel":"ok","draining":"ok"}}
	// 503 {"status":"unavailable","checks":{"database":"ok","migrations":"ok","channel":"ok","draining":"failed"}}
}
