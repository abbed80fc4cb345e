package users_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

func trigramIndexes(t *testing.T, db *bun.DB) []string {
	t.Helper()
	var names []string
	require.NoError(t, db.NewSelect().TableExpr("pg_indexes").Column("indexname").
		Where("tablename = 'users' AND indexname LIKE '%trgm%'").Order("indexname").Scan(context.Background(), &names))
	return names
}

func TestMigrationsMakeTrigramIndexes(t *testing.T) {
	t.Parallel()
	db := storagetest.Postgres(t)
	newEnv(t, db)
	assert.Equal(t, []string{"users_email_trgm_idx", "users_name_trgm_idx", "users_telegram_name_trgm_idx"}, trigramIndexes(t, db))
}

// A role that may not create extensions gets no trigram indexes: the
// migration warns and carries on, every start warns again, and search works
// (by scanning).
func TestMigrationsWithoutTrigram(t *testing.T) {
	t.Parallel()
	server := storagetest.PostgresDSN(t) // skips without TEST_POSTGRES_DSN
	ctx := context.Background()
	admin, err := storage.Open(ctx, server, storage.WithMaxOpenConns(1))
	require.NoError(t, err)
	defer admin.Close()

	b := make([]byte, 6)
	rand.Read(b)
	role := "users_noext_" + hex.EncodeToString(b)
	_, err = admin.ExecContext(ctx, "CREATE ROLE "+role+" LOGIN")
	require.NoError(t, err)
	t.Cleanup(func() {
		// Runs before the database is dropped: give back what the role owns.
		a, err := storage.Open(context.Background(), server, storage.WithMaxOpenConns(1))
		if err == nil {
			_, _ = a.ExecContext(context.Background(), "DROP OWNED BY "+role)
			_, _ = a.ExecContext(context.Background(), "DROP ROLE "+role)
			a.Close()
		}
	})
	// It may create tables, but not extensions (that takes CREATE on the database).
	_, err = admin.ExecContext(ctx, "GRANT CREATE ON SCHEMA public TO "+role)
	require.NoError(t, err)

	u, err := url.Parse(server)
	require.NoError(t, err)
	u.User = url.User(role)
	db, err := storage.Open(ctx, u.String(), storage.WithMaxOpenConns(2))
	require.NoError(t, err)
	defer db.Close()

	e := newEnv(t, db)
	assert.Contains(t, e.logs.String(), "no trigram indexes")
	assert.Contains(t, e.logs.String(), "CREATE EXTENSION IF NOT EXISTS pg_trgm")
	assert.Empty(t, trigramIndexes(t, db))

	// The next start warns again.
	e2 := newEnv(t, db, func(o *users.Options) { o.RootPassword = "" })
	assert.Contains(t, e2.logs.String(), "trigram indexes are missing")

	root := e.root(t)
	e.create(t, root, "ann", "ann-password", nil)
	a := e.ok(t, root, "/v1/admin/users/read", map[string]any{"where": map[string]any{"search": []string{"like", "AN"}}})
	assert.Equal(t, float64(1), a.Meta["total"])
}
