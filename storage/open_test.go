package storage_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		require.NoError(t, db.PingContext(ctx))
		assert.Equal(t, t.Name() == "TestOpen/postgres", storage.IsPostgres(db))

		_, err := db.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "INSERT INTO t (id, name) VALUES (?, ?)", 1, "one")
		require.NoError(t, err)
		var name string
		require.NoError(t, db.NewSelect().Table("t").Column("name").Where("id = ?", 1).Scan(ctx, &name))
		assert.Equal(t, "one", name)

		require.NoError(t, db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			assert.Equal(t, storage.IsPostgres(db), storage.IsPostgres(tx))
			return nil
		}))
	})
}

func sqlitePragma(t *testing.T, db bun.IDB, name string) string {
	t.Helper()
	var v string
	require.NoError(t, db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v))
	return v
}

func TestOpenSQLiteSettings(t *testing.T) {
	t.Parallel()
	db := storagetest.SQLite(t)
	ctx := t.Context()

	// Check every connection of the pool, not just one.
	const n = 4
	conns := make([]bun.Conn, n)
	for i := range conns {
		c, err := db.Conn(ctx)
		require.NoError(t, err)
		defer c.Close()
		conns[i] = c
	}
	for _, c := range conns {
		assert.Equal(t, "wal", sqlitePragma(t, c, "journal_mode"))
		assert.Equal(t, "10000", sqlitePragma(t, c, "busy_timeout"))
		assert.Equal(t, "1", sqlitePragma(t, c, "foreign_keys"))
		assert.Equal(t, "1", sqlitePragma(t, c, "synchronous")) // NORMAL
	}
	assert.Equal(t, 8, db.Stats().MaxOpenConnections)
}

func TestOpenSQLiteDSNParametersWin(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := storage.Open(t.Context(), path+"?_busy_timeout=500&_pragma=synchronous(FULL)", storage.WithMaxOpenConns(2))
	require.NoError(t, err)
	defer db.Close()

	assert.Equal(t, "500", sqlitePragma(t, db, "busy_timeout"))
	assert.Equal(t, "2", sqlitePragma(t, db, "synchronous")) // FULL
	assert.Equal(t, "wal", sqlitePragma(t, db, "journal_mode"))
	assert.Equal(t, 2, db.Stats().MaxOpenConnections)
}

func TestOpenSQLiteFileURI(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := storage.Open(t.Context(), "file:"+path+"?cache=private")
	require.NoError(t, err)
	defer db.Close()

	assert.Equal(t, "wal", sqlitePragma(t, db, "journal_mode"))
	assert.Equal(t, "1", sqlitePragma(t, db, "foreign_keys"))
	assert.FileExists(t, path)
}

func TestOpenSQLiteMemory(t *testing.T) {
	t.Parallel()
	db, err := storage.Open(t.Context(), ":memory:")
	require.NoError(t, err)
	defer db.Close()

	// One connection, so that all queries see the same database.
	assert.Equal(t, 1, db.Stats().MaxOpenConnections)
	_, err = db.ExecContext(t.Context(), "CREATE TABLE t (id INTEGER)")
	require.NoError(t, err)
	var n int
	require.NoError(t, db.NewSelect().Table("t").ColumnExpr("count(*)").Scan(t.Context(), &n))
	assert.Zero(t, n)
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, err := storage.Open(ctx, "")
	assert.Error(t, err)

	_, err = storage.Open(ctx, filepath.Join(t.TempDir(), "missing", "dir", "x.db"))
	assert.ErrorContains(t, err, "storage: open sqlite")

	_, err = storage.Open(ctx, filepath.Join(t.TempDir(), "x.db")+"?_journal_mode=bogus")
	assert.Error(t, err)
}

func TestOpenPostgresErrorsHidePassword(t *testing.T) {
	t.Parallel()
	const pw = "s3cr3t-Pa55"
	dsns := []string{
		"postgres://alice:" + pw + "@127.0.0.1:1/db?connect_timeout=2",          // refused
		"postgresql://alice:" + pw + "@127.0.0.1:notaport/db",                   // bad port
		"postgres://alice:" + pw + "@127.0.0.1:1/db?sslmode=bogus",              // bad option
		"postgres://alice:" + pw + "@127.0.0.1:1/db?password=" + pw + "&x=%zz",  // bad escape
		"postgres://alice@127.0.0.1:1/db?connect_timeout=2&password=" + pw,      // password in query
		"postgres://alice:" + strings.ReplaceAll(pw, "5", "%35") + "@[::1/db",   // escaped, broken host
		"postgres://alice:p@ss:" + pw + "@127.0.0.1:1/db?connect_timeout=2",     // unescaped '@' and ':'
		"postgres://alice:" + pw + "@127.0.0.1:1/db?connect_timeout=2&sslmode=", // empty option
	}
	for _, dsn := range dsns {
		_, err := storage.Open(t.Context(), dsn)
		require.Error(t, err, dsn)
		msg := err.Error() + fmt.Sprintf(" %v %+v", err, err)
		assert.NotContains(t, msg, pw, dsn)
		assert.NotContains(t, msg, "p@ss", dsn)
		assert.Contains(t, msg, "storage: open postgres", dsn)
	}
}

func TestOpenPostgresMissingDatabase(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	i := strings.LastIndex(dsn, "/")
	missing := dsn[:i] + "/authrpc_no_such_database"
	_, err := storage.Open(t.Context(), missing)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "authrpc_no_such_database")
}

// TestConcurrentWriters writes from 50 goroutines at once, with plain
// statements and with transactions that read before they write (the case
// that fails at once with SQLITE_BUSY under deferred transactions).
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		_, err := db.ExecContext(ctx, "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "CREATE TABLE items (id INTEGER NOT NULL, i INTEGER NOT NULL)")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "INSERT INTO counter (id, n) VALUES (1, 0)")
		require.NoError(t, err)

		const workers, rounds = 50, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*rounds*2)
		for w := range workers {
			wg.Go(func() {
				for i := range rounds {
					_, err := db.ExecContext(ctx, "INSERT INTO items (id, i) VALUES (?, ?)", w, i)
					if err != nil {
						errs <- err
					}
					err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
						var n int
						if err := tx.QueryRowContext(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&n); err != nil {
							return err
						}
						_, err := tx.ExecContext(ctx, "UPDATE counter SET n = ? WHERE id = 1", n+1)
						return err
					})
					if err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}

		var items, n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM items").Scan(&items))
		assert.Equal(t, workers*rounds, items)
		if !storage.IsPostgres(db) {
			// SQLite transactions are serialized, so no increment is lost;
			// PostgreSQL's READ COMMITTED makes no such promise here.
			require.NoError(t, db.QueryRowContext(ctx, "SELECT n FROM counter WHERE id = 1").Scan(&n))
			assert.Equal(t, workers*rounds, n)
		}
	})
}
