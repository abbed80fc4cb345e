package calllog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// The names of the tables the module makes and of the record of its
// migrations, without a prefix.
var unprefixed = []string{
	"calllog_batches", "calllog_methods", "calllog_stat_1m", "calllog_stat_10m",
	"calllog_flushes", "authrpc_migrations",
}

// Mounted twice on one database under two prefixes, the call log keeps two logs: each
// reads back its own calls only, and no query of either names a table
// without its prefix.
func TestTablePrefixTwice(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		own := bun.NewDB(db.DB, db.Dialect()) // the test's queries, unrecorded
		db, queries := storagetest.RecordQueries(db)
		a := newEnv(t, db, fast(calllog.Options{TablePrefix: "app_"}))
		b := newEnv(t, db, fast(calllog.Options{TablePrefix: "b_"}))

		for range 3 {
			require.Equal(t, 200, a.c.Post(t, mOK, `["a"]`).Code)
		}
		require.Equal(t, 200, b.c.Post(t, mOK, `["b"]`).Code)
		require.Equal(t, 400, b.c.Post(t, mFail, ``).Code)

		require.Eventually(t, func() bool { return len(a.readAll(t, mOK)) == 3 }, time.Minute, 10*time.Millisecond)
		require.Eventually(t, func() bool { return len(b.readAll(t, mFail)) == 1 }, time.Minute, 10*time.Millisecond)
		assert.Len(t, b.readAll(t, mOK), 1, "b reads its own call of %s only", mOK)
		assert.Empty(t, a.readAll(t, mFail), "a reads none of b's calls")
		for _, r := range a.readAll(t, mOK) {
			assert.Equal(t, mOK, r.MethodID)
			assert.Equal(t, 200, r.Status)
		}

		statsOf := func(e *env, stats func(*env, testing.TB, string) calllog.MethodStats, method string) int64 {
			n, _, _, _ := sum(stats(e, t, method))
			return n
		}
		latest, history := (*env).latest, (*env).history
		require.Eventually(t, func() bool {
			return statsOf(a, latest, mOK) == 3 && statsOf(b, latest, mOK) == 1 &&
				statsOf(a, history, mOK) == 3 && statsOf(b, history, mOK) == 1
		}, time.Minute, 10*time.Millisecond)
		assert.Zero(t, statsOf(a, latest, mFail), "a's buckets hold none of b's calls")
		assert.Zero(t, statsOf(a, history, mFail))
		assert.EqualValues(t, 1, statsOf(b, history, mFail))

		require.NoError(t, a.mod.RunRetention(ctx))
		require.NoError(t, b.mod.RunRetention(ctx))
		assert.Len(t, a.readAll(t, mOK), 3, "retention keeps rows younger than Retention")
		require.NoError(t, a.mod.Close(ctx))
		require.NoError(t, b.mod.Close(ctx))

		for _, table := range unprefixed {
			assert.Empty(t, queries.Naming(table), "a query names %s without the prefix", table)
			assert.NotEmpty(t, queries.Naming("app_"+table), "app_%s", table)
			assert.NotEmpty(t, queries.Naming("b_"+table), "b_%s", table)
		}
		names := schemaNames(t, own)
		for _, n := range names {
			assert.False(t, strings.HasPrefix(n, "calllog_") || strings.HasPrefix(n, "authrpc_"),
				"%s is not under a prefix", n)
		}
		for _, p := range []string{"app_", "b_"} {
			assert.Contains(t, names, p+"calllog_batches_last")
			assert.Contains(t, names, p+"calllog_batches_first")
			assert.Contains(t, names, p+"calllog_stat_1m_date")
			assert.NotContains(t, names, p+"calllog_calls", "packed into batches and dropped")
			if storage.IsPostgres(own) {
				assert.Contains(t, names, p+"calllog_batches_id_seq")
			}
		}
	})
}

// schemaNames lists the tables, indexes and sequences of db's schema.
func schemaNames(t *testing.T, db *bun.DB) []string {
	t.Helper()
	query := "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
	if storage.IsPostgres(db) {
		query = "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
	}
	var names []string
	require.NoError(t, db.NewRaw(query).Scan(t.Context(), &names))
	return names
}

// A prefix that is not a plain identifier is refused before any table is
// made.
func TestTablePrefixRefused(t *testing.T) {
	db := storagetest.SQLite(t)
	reg := rpc.New(rpc.Options{Permissions: auth.NewPermissions(auth.Permission{Name: "admin"})})
	_, err := calllog.Mount(t.Context(), reg, db, calllog.Options{TablePrefix: "App-"})
	require.ErrorContains(t, err, "Options.TablePrefix")
	assert.Empty(t, schemaNames(t, db))
}

// A permission that is not declared is refused before any table is made;
// declared, it guards the methods.
func TestPermissionMustBeDeclared(t *testing.T) {
	db := storagetest.SQLite(t)
	reg := rpc.New(rpc.Options{Permissions: auth.NewPermissions(auth.Permission{Name: "admin"})})
	_, err := calllog.Mount(t.Context(), reg, db, calllog.Options{Permission: "ops"})
	require.ErrorContains(t, err, `Options.Permission: permission "ops" is not declared`)
	assert.Empty(t, schemaNames(t, db))
	assert.Empty(t, reg.Methods())

	require.NoError(t, reg.Permissions().Declare(auth.Permission{Name: "ops"}))
	mod, err := calllog.Mount(t.Context(), reg, db, calllog.Options{Permission: "ops"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = mod.Close(context.Background()) })
	require.NotEmpty(t, reg.Methods())
	for _, m := range reg.Methods() {
		assert.Equal(t, []string{"ops"}, m.Permissions, m.ID)
	}
}
