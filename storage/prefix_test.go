package storage_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

func TestCheckTablePrefix(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"", "app_", "a", "_x", "t2_", "abcdefghij0123456789"} {
		assert.NoError(t, storage.CheckTablePrefix(ok), "%q", ok)
	}
	for _, bad := range []string{
		"App_", "2a_", "a-b", "a b", "a.b", `a"`, "a;DROP TABLE users;--", "é_",
		"abcdefghij0123456789x", // one byte too long
	} {
		assert.Error(t, storage.CheckTablePrefix(bad), "%q", bad)
	}
}

func TestPrefixed(t *testing.T) {
	t.Parallel()
	text := "CREATE TABLE {prefix}notes (id INT); CREATE INDEX {prefix}notes_id ON {prefix}notes (id)"
	assert.Equal(t, "CREATE TABLE app_notes (id INT); CREATE INDEX app_notes_id ON app_notes (id)", storage.Prefixed("app_", text))
	assert.Equal(t, "CREATE TABLE notes (id INT); CREATE INDEX notes_id ON notes (id)", storage.Prefixed("", text))
}

// The same module migrated under two prefixes gets two records and two
// sets of tables, index names included (PostgreSQL wants them unique per
// schema); the unprefixed record table stays out of it.
func TestMigrateTablePrefix(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		notes := func(prefix string) []storage.Migration {
			return []storage.Migration{{Version: 1, Name: "create notes", Up: storage.SQL(
				storage.Prefixed(prefix, "CREATE TABLE {prefix}notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL); CREATE INDEX {prefix}notes_body ON {prefix}notes (body)"),
				storage.Prefixed(prefix, "CREATE TABLE {prefix}notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL); CREATE INDEX {prefix}notes_body ON {prefix}notes (body)"),
			)}}
		}
		for _, prefix := range []string{"a_", "b_"} {
			require.NoError(t, storage.Migrate(ctx, db, "notes", notes(prefix), quiet, storage.WithTablePrefix(prefix)))
			// Again: recorded, so nothing runs (a second CREATE TABLE would fail).
			require.NoError(t, storage.Migrate(ctx, db, "notes", notes(prefix), quiet, storage.WithTablePrefix(prefix)))
		}
		for _, prefix := range []string{"a_", "b_"} {
			assert.True(t, tableExists(t, db, prefix+"notes"), prefix)
			assert.True(t, tableExists(t, db, prefix+"authrpc_migrations"), prefix)
			var versions []int
			require.NoError(t, db.NewSelect().Table(prefix+"authrpc_migrations").Column("version").
				Where("module = ?", "notes").Scan(ctx, &versions))
			assert.Equal(t, []int{1}, versions, prefix)
		}
		assert.False(t, tableExists(t, db, "authrpc_migrations"))
		assert.False(t, tableExists(t, db, "notes"))

		err := storage.Migrate(ctx, db, "notes", notes("x_"), quiet, storage.WithTablePrefix("X; DROP TABLE a_notes"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "table prefix")
		assert.True(t, tableExists(t, db, "a_notes"))
	})
}

// Limits under two prefixes keep their buckets in two tables: spending one
// limit's bucket leaves the other's full.
func TestLimitsTablePrefix(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		c := &fakeTime{now: time.Unix(1_800_000_000, 0)}
		limiter := func(prefix string) *storage.Limiter {
			l, err := storage.NewLimits(ctx, db, storage.LimitsOptions{Now: c.Now, TablePrefix: prefix}, quiet)
			require.NoError(t, err)
			return l.Limiter("signin", 1.0/60, 1)
		}
		a, b, plain := limiter("a_"), limiter("b_"), limiter("")

		ok, _ := take(t, a, "bob")
		require.True(t, ok)
		ok, _ = take(t, a, "bob")
		require.False(t, ok, "a's bucket is spent")
		ok, _ = take(t, b, "bob")
		assert.True(t, ok, "b counts apart from a")
		ok, _ = take(t, plain, "bob")
		assert.True(t, ok, "the unprefixed table counts apart too")

		for _, table := range []string{"a_authrpc_rate_limits", "b_authrpc_rate_limits", "authrpc_rate_limits"} {
			n, err := db.NewSelect().Table(table).Where("key = ?", "bob").Count(ctx)
			require.NoError(t, err)
			assert.EqualValues(t, 1, n, table)
		}
		require.NoError(t, a.Refill(ctx, "bob"))
		ok, _ = take(t, a, "bob")
		assert.True(t, ok, "refilled")
		ok, _ = take(t, b, "bob")
		assert.False(t, ok, "a's refill left b's bucket spent")

		_, err := storage.NewLimits(ctx, db, storage.LimitsOptions{TablePrefix: "bad-prefix"}, quiet)
		assert.Error(t, err)
	})
}

// Syncs under different channel prefixes on one PostgreSQL database do not
// hear each other; under the same one they do.
func TestSyncChannelPrefix(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	db1, db2 := openPostgres(t, dsn), openPostgres(t, dsn)
	a := newSync(t, db1, storage.SyncOptions{ChannelPrefix: "a_"})
	b := newSync(t, db2, storage.SyncOptions{ChannelPrefix: "b_"})
	a2 := newSync(t, db2, storage.SyncOptions{ChannelPrefix: "a_"})
	plain := newSync(t, db2, storage.SyncOptions{})

	inB, inA2, inPlain := subscribe(b.Channel("auth")), subscribe(a2.Channel("auth")), subscribe(plain.Channel("auth"))
	for _, s := range []*storage.Sync{b, a2, plain} {
		watch(s.Channel("auth")).until(t, true, eventWait)
	}
	require.NoError(t, a.Channel("auth").Publish(t.Context(), "user 100"))
	assert.Equal(t, "user 100", inA2.next(t, eventWait).payload)
	inB.nothingBefore(t, db1, "b_authrpc_auth")
	inPlain.nothingBefore(t, db1, "authrpc_auth")

	// An operator's hand-made NOTIFY names the prefixed channel.
	_, err := db1.ExecContext(t.Context(), "SELECT pg_notify('b_authrpc_auth', '*')")
	require.NoError(t, err)
	assert.Equal(t, "*", inB.next(t, eventWait).payload)
	inA2.nothingBefore(t, db1, "a_authrpc_auth")

	_, err = storage.NewSync(t.Context(), db1, storage.SyncOptions{ChannelPrefix: strings.Repeat("x", storage.MaxTablePrefix+1)})
	assert.Error(t, err)
}
