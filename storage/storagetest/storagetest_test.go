package storagetest_test

import (
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

func TestRunWithoutPostgres(t *testing.T) {
	t.Setenv(storagetest.EnvPostgresDSN, "")
	var ran []string
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ran = append(ran, t.Name())
		assert.False(t, storage.IsPostgres(db))
	})
	assert.Equal(t, []string{"TestRunWithoutPostgres/sqlite"}, ran)
}

func TestRunFreshDatabases(t *testing.T) {
	t.Parallel()
	// Each call starts from an empty database, so creating the same table
	// twice works.
	for range 2 {
		storagetest.Run(t, func(t *testing.T, db *bun.DB) {
			_, err := db.ExecContext(t.Context(), "CREATE TABLE t (id INTEGER)")
			require.NoError(t, err)
		})
	}
}

// TestPostgresDSN creates databases from parallel tests and checks that each
// is dropped when its test ends.
func TestPostgresDSN(t *testing.T) {
	t.Parallel()
	server := storagetest.Postgres(t)

	var mu sync.Mutex
	var names []string
	var open []*bun.DB
	defer func() {
		for _, db := range open {
			db.Close()
		}
	}()
	t.Run("group", func(t *testing.T) {
		for i := range 8 {
			t.Run("", func(t *testing.T) {
				t.Parallel()
				dsn := storagetest.PostgresDSN(t)
				u, err := url.Parse(dsn)
				require.NoError(t, err)
				name := strings.TrimPrefix(u.Path, "/")
				assert.True(t, strings.HasPrefix(name, "authrpc_test_"), name)

				db, err := storage.Open(t.Context(), dsn, storage.WithMaxOpenConns(1))
				require.NoError(t, err)
				var current string
				require.NoError(t, db.QueryRowContext(t.Context(), "SELECT current_database()").Scan(&current))
				assert.Equal(t, name, current)

				mu.Lock()
				names = append(names, name)
				if i%2 == 0 {
					// Left open past the test on purpose: the drop must
					// not wait for it.
					open = append(open, db)
				} else {
					require.NoError(t, db.Close())
				}
				mu.Unlock()
			})
		}
	})

	require.Len(t, names, 8)
	var left int
	err := server.NewSelect().
		TableExpr("pg_database").
		ColumnExpr("count(*)").
		Where("datname IN (?)", bun.List(names)).
		Scan(t.Context(), &left)
	require.NoError(t, err)
	assert.Zero(t, left, "databases not dropped: %v", names)
}

func TestRecordQueries(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		db, q := storagetest.RecordQueries(db)
		ctx := t.Context()
		_, err := db.ExecContext(ctx, "CREATE TABLE app_users (id INTEGER)")
		require.NoError(t, err)
		_, err = db.NewSelect().Table("app_users").Count(ctx)
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "CREATE TABLE users (id INTEGER)")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `INSERT INTO "users" (id) VALUES (?)`, 1)
		require.NoError(t, err)

		all := q.All()
		require.Len(t, all, 4)
		assert.Len(t, q.Naming("app_users"), 2)
		naming := q.Naming("users")
		require.Len(t, naming, 2, "app_users is another name: %q", naming)
		assert.Contains(t, naming[0], "CREATE TABLE users")
		assert.Empty(t, q.Naming("user"))

		_, err = db.ExecContext(ctx, "SELECT 'users', 'it''s users' FROM app_users")
		require.NoError(t, err)
		assert.Len(t, q.Naming("users"), 2, "a string literal names no table")
	})
}

// Open gives a benchmark the database its sub-benchmark names.
func TestOpenByKind(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, "sqlite")
	require.NoError(t, db.PingContext(t.Context()))
	assert.Equal(t, "sqlite", db.Dialect().Name().String())
}
