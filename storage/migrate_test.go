package storage_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

var quiet = storage.WithLogger(slog.New(slog.DiscardHandler))

type record struct {
	Module    string
	Version   int
	Name      string
	AppliedAt time.Time
}

func records(t *testing.T, db *bun.DB) []record {
	t.Helper()
	var out []record
	err := db.NewSelect().
		Table("authrpc_migrations").
		Column("module", "version", "name", "applied_at").
		OrderExpr("module, version").
		Scan(t.Context(), &out)
	require.NoError(t, err)
	return out
}

func tableExists(t *testing.T, db *bun.DB, name string) bool {
	t.Helper()
	var n int
	var err error
	if storage.IsPostgres(db) {
		err = db.QueryRowContext(t.Context(),
			"SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?", name).Scan(&n)
	} else {
		err = db.QueryRowContext(t.Context(),
			"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", name).Scan(&n)
	}
	require.NoError(t, err)
	return n > 0
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		var order []int
		step := func(v int, up func(context.Context, bun.Tx) error) storage.Migration {
			return storage.Migration{Version: v, Name: "step " + string(rune('0'+v)), Up: func(ctx context.Context, tx bun.Tx) error {
				order = append(order, v)
				return up(ctx, tx)
			}}
		}
		// Given out of order: they run in version order.
		migrations := []storage.Migration{
			step(3, storage.SQL(
				"INSERT INTO notes (id, body) VALUES (1, 'pg?')",
				"INSERT INTO notes (id, body) VALUES (1, 'lite?')")),
			step(1, storage.SQL(
				"CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL); CREATE INDEX notes_body ON notes (body);",
				"CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL); CREATE INDEX notes_body ON notes (body);")),
			step(2, storage.SQL("", "")), // nothing to do on either
		}

		before := time.Now().Add(-time.Minute)
		require.NoError(t, storage.Migrate(ctx, db, "notes", migrations, quiet))
		assert.Equal(t, []int{1, 2, 3}, order)

		recs := records(t, db)
		require.Len(t, recs, 3)
		for i, r := range recs {
			assert.Equal(t, "notes", r.Module)
			assert.Equal(t, i+1, r.Version)
			assert.Equal(t, "step "+string(rune('1'+i)), r.Name)
			assert.True(t, r.AppliedAt.After(before), r.AppliedAt)
		}
		assert.True(t, tableExists(t, db, "notes"))

		// '?' reached the database as written.
		var body string
		require.NoError(t, db.QueryRowContext(ctx, "SELECT body FROM notes WHERE id = 1").Scan(&body))
		if storage.IsPostgres(db) {
			assert.Equal(t, "pg?", body)
		} else {
			assert.Equal(t, "lite?", body)
		}

		// Running again does nothing.
		order = nil
		require.NoError(t, storage.Migrate(ctx, db, "notes", migrations, quiet))
		assert.Empty(t, order)
		assert.Len(t, records(t, db), 3)

		// A new migration is applied on its own.
		migrations = append(migrations, step(4, storage.SQL(
			"ALTER TABLE notes ADD COLUMN title TEXT",
			"ALTER TABLE notes ADD COLUMN title TEXT")))
		require.NoError(t, storage.Migrate(ctx, db, "notes", migrations, quiet))
		assert.Equal(t, []int{4}, order)

		// Modules have versions of their own.
		order = nil
		require.NoError(t, storage.Migrate(ctx, db, "other", []storage.Migration{
			step(1, storage.SQL("CREATE TABLE other (id BIGINT)", "CREATE TABLE other (id INTEGER)")),
		}, quiet))
		assert.Equal(t, []int{1}, order)
		assert.Len(t, records(t, db), 5)
	})
}

func TestMigrateFailureRollsBack(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		boom := errors.New("boom")
		var ran3 bool
		migrations := []storage.Migration{
			{Version: 1, Name: "good", Up: storage.SQL("CREATE TABLE good (id BIGINT)", "CREATE TABLE good (id INTEGER)")},
			{Version: 2, Name: "bad", Up: func(ctx context.Context, tx bun.Tx) error {
				if _, err := tx.ExecContext(ctx, "CREATE TABLE half (id INTEGER)"); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, "INSERT INTO good (id) VALUES (1)"); err != nil {
					return err
				}
				return boom
			}},
			{Version: 3, Name: "later", Up: func(ctx context.Context, tx bun.Tx) error {
				ran3 = true
				return nil
			}},
		}
		err := storage.Migrate(ctx, db, "m", migrations, quiet)
		require.ErrorIs(t, err, boom)
		assert.Contains(t, err.Error(), "storage: migrate m 2 (bad)")
		assert.False(t, ran3, "a migration after a failed one ran")

		recs := records(t, db)
		require.Len(t, recs, 1)
		assert.Equal(t, 1, recs[0].Version)
		assert.True(t, tableExists(t, db, "good"))
		assert.False(t, tableExists(t, db, "half"))
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM good").Scan(&n))
		assert.Zero(t, n)

		// A statement failing in the middle of a multi-statement text rolls
		// back the statements before it, too.
		migrations[1].Up = storage.SQL(
			"CREATE TABLE half (id BIGINT); INSERT INTO no_such_table VALUES (1); CREATE TABLE after (id BIGINT)",
			"CREATE TABLE half (id INTEGER); INSERT INTO no_such_table VALUES (1); CREATE TABLE after (id INTEGER)")
		require.Error(t, storage.Migrate(ctx, db, "m", migrations, quiet))
		assert.False(t, tableExists(t, db, "half"))
		assert.False(t, tableExists(t, db, "after"))
		assert.Len(t, records(t, db), 1)

		// Fixed, it applies.
		migrations[1].Up = storage.SQL("CREATE TABLE half (id BIGINT)", "CREATE TABLE half (id INTEGER)")
		require.NoError(t, storage.Migrate(ctx, db, "m", migrations, quiet))
		assert.True(t, ran3)
		assert.Len(t, records(t, db), 3)
	})
}

func TestMigrateRefusesBadLists(t *testing.T) {
	t.Parallel()
	db := storagetest.SQLite(t)
	up := storage.SQL("", "")
	for name, tc := range map[string]struct {
		module     string
		migrations []storage.Migration
		msg        string
	}{
		"zero":      {"m", []storage.Migration{{Version: 0, Up: up}}, "version must be positive"},
		"negative":  {"m", []storage.Migration{{Version: 1, Up: up}, {Version: -1, Up: up}}, "version must be positive"},
		"duplicate": {"m", []storage.Migration{{Version: 2, Up: up}, {Version: 1, Up: up}, {Version: 2, Up: up}}, "duplicate version"},
		"nil up":    {"m", []storage.Migration{{Version: 1}}, "Up is nil"},
		"no module": {"", []storage.Migration{{Version: 1, Up: up}}, "empty module"},
	} {
		t.Run(name, func(t *testing.T) {
			err := storage.Migrate(t.Context(), db, tc.module, tc.migrations, quiet)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
	// Refused before touching the database.
	assert.False(t, tableExists(t, db, "authrpc_migrations"))
}

func TestMigrateEmptyList(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		require.NoError(t, storage.Migrate(t.Context(), db, "m", nil, quiet))
		assert.True(t, tableExists(t, db, "authrpc_migrations"))
	})
}

func TestMigrateLogs(t *testing.T) {
	t.Parallel()
	db := storagetest.SQLite(t)
	var buf bytes.Buffer
	logger := storage.WithLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	migrations := []storage.Migration{
		{Version: 1, Name: "first", Up: storage.SQL("", "CREATE TABLE a (id INTEGER)")},
		{Version: 2, Name: "second", Up: storage.SQL("", "CREATE TABLE b (id INTEGER)")},
	}
	require.NoError(t, storage.Migrate(t.Context(), db, "logged", migrations, logger))
	out := buf.String()
	assert.Equal(t, 2, strings.Count(out, "storage: applied migration"), out)
	assert.Contains(t, out, "module=logged version=1 name=first")
	assert.Contains(t, out, "module=logged version=2 name=second")

	buf.Reset()
	require.NoError(t, storage.Migrate(t.Context(), db, "logged", migrations, logger))
	assert.Empty(t, buf.String())
}

// TestMigrateConcurrent migrates one database from several goroutines over
// one pool and over two pools (as two processes would): every migration
// runs exactly once.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dsn  func(testing.TB) string
	}{
		{"sqlite", storagetest.SQLiteDSN},
		{"postgres", storagetest.PostgresDSN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := tc.dsn(t)
			ctx := t.Context()
			open := func() *bun.DB {
				db, err := storage.Open(ctx, dsn, storage.WithMaxOpenConns(4))
				require.NoError(t, err)
				t.Cleanup(func() { db.Close() })
				return db
			}
			dbs := []*bun.DB{open(), open()}

			const modules, versions, perDB = 3, 5, 3
			var runs [modules][versions + 1]atomic.Int32
			lists := make([][]storage.Migration, modules)
			for m := range modules {
				for v := 1; v <= versions; v++ {
					table := "t_" + string(rune('a'+m)) + "_" + string(rune('0'+v))
					lists[m] = append(lists[m], storage.Migration{
						Version: v,
						Name:    table,
						Up: func(ctx context.Context, tx bun.Tx) error {
							runs[m][v].Add(1)
							// Fails if run twice.
							_, err := tx.ExecContext(ctx, "CREATE TABLE "+table+" (id INTEGER)")
							return err
						},
					})
				}
			}

			var wg sync.WaitGroup
			errs := make(chan error, len(dbs)*perDB*modules)
			for _, db := range dbs {
				for range perDB {
					for m := range modules {
						wg.Go(func() {
							if err := storage.Migrate(ctx, db, "mod"+string(rune('a'+m)), lists[m], quiet); err != nil {
								errs <- err
							}
						})
					}
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}

			for m := range modules {
				for v := 1; v <= versions; v++ {
					assert.EqualValues(t, 1, runs[m][v].Load(), "module %d version %d", m, v)
				}
			}
			assert.Len(t, records(t, dbs[0]), modules*versions)
		})
	}
}
