// Package storagetest runs tests against the databases that package storage
// supports: always SQLite, and PostgreSQL when the environment variable
// TEST_POSTGRES_DSN holds a postgres:// URL of a server where its role may
// create databases. Every call gets a database of its own (a file in
// t.TempDir(), or a PostgreSQL database named authrpc_test_<random hex>
// that is dropped afterwards), so tests may run in parallel.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
)

// EnvPostgresDSN names the environment variable with the PostgreSQL server
// to test against.
const EnvPostgresDSN = "TEST_POSTGRES_DSN"

const skipMessage = "TEST_POSTGRES_DSN is not set: PostgreSQL storage tests skipped"

// postgresConns keeps a test database's pool small: packages and parallel
// tests share the server's max_connections (100 by default).
const postgresConns = 4

// Run runs fn as the subtest "sqlite" on a fresh SQLite database and as the
// subtest "postgres" on a fresh PostgreSQL database; the latter is skipped,
// saying so, when TEST_POSTGRES_DSN is not set. The two run one after the
// other, so that the caller may look at what fn did once Run returns; a
// test that calls t.Parallel() before Run runs beside the other parallel
// tests of its package, each on databases of its own.
func Run(t *testing.T, fn func(t *testing.T, db *bun.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// Open opens a fresh database of the kind named as Run's subtests are,
// "sqlite" (SQLite) or "postgres" (Postgres, skipped without
// TEST_POSTGRES_DSN): for benchmarks, which Run does not serve, that name
// their sub-benchmarks by database.
func Open(tb testing.TB, kind string) *bun.DB {
	tb.Helper()
	switch kind {
	case "sqlite":
		return SQLite(tb)
	case "postgres":
		return Postgres(tb)
	}
	tb.Fatalf("storagetest: Open: unknown kind %q (want sqlite or postgres)", kind)
	return nil
}

// SQLite opens a fresh SQLite database in t.TempDir() with storage.Open and
// closes it when the test ends.
func SQLite(t testing.TB) *bun.DB {
	t.Helper()
	return open(t, SQLiteDSN(t))
}

// SQLiteDSN returns the path of a SQLite database file that does not exist
// yet, in t.TempDir().
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "test.db")
}

// Postgres opens a fresh PostgreSQL database (see PostgresDSN) with a small
// pool and closes it when the test ends. It skips the test when
// TEST_POSTGRES_DSN is not set.
func Postgres(t testing.TB) *bun.DB {
	t.Helper()
	return open(t, PostgresDSN(t), storage.WithMaxOpenConns(postgresConns))
}

// PostgresDSN creates a fresh PostgreSQL database on the server of
// TEST_POSTGRES_DSN and returns a DSN for it, for tests that open several
// connections or start processes. The database is dropped, with whatever
// is still connected to it, when the test ends. It skips the test when
// TEST_POSTGRES_DSN is not set.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	server := os.Getenv(EnvPostgresDSN)
	if server == "" {
		t.Skip(skipMessage)
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Not printing err: it would show the password.
		t.Fatalf("storagetest: %s must be a postgres:// URL", EnvPostgresDSN)
	}

	name := "authrpc_test_" + randomHex()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := createDatabase(ctx, server, name); err != nil {
		t.Fatalf("storagetest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := adminExec(ctx, server, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("storagetest: drop database %s: %v", name, err)
		}
	})

	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

func open(t testing.TB, dsn string, opts ...storage.Option) *bun.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := storage.Open(ctx, dsn, opts...)
	if err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("storagetest: close: %v", err)
		}
	})
	return db
}

func createDatabase(ctx context.Context, server, name string) error {
	query := "CREATE DATABASE " + name
	for {
		err := adminExec(ctx, server, query)
		// 55006: another session is connected to template1 at this moment,
		// e.g. a concurrent CREATE DATABASE; try again.
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// adminExec runs query on the server's own database over a connection of
// its own, so that no pool holds connections to the server for long.
func adminExec(ctx context.Context, server, query string) error {
	db, err := storage.Open(ctx, server, storage.WithMaxOpenConns(1))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, query)
	return err
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}
