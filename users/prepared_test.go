package users_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// profile/read answers the caller's record as the table holds it at that
// moment, after every kind of change (kept by the module between changes,
// read through a statement prepared once on SQLite), and reads go on,
// unprepared, once the module is closed.
func TestProfileReadIsTheTables(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		root := e.root(t)
		u := e.create(t, root, "erin", "erin-password", nil)
		id, err := strconv.ParseInt(u.ID, 10, 64)
		require.NoError(t, err)
		tok := e.signin(t, "erin", "erin-password")
		read := func() userRec {
			var p userRec
			e.ok(t, tok, "/v1/profile/read").Decode(t, &p)
			return p
		}
		assert.Nil(t, read().Email)

		require.NoError(t, e.mod.SetEmail(ctx, id, "erin@example.com"))
		p := read()
		require.NotNil(t, p.Email)
		assert.Equal(t, "erin@example.com", *p.Email)

		e.ok(t, tok, "/v1/profile/set-telegram-username", "erin_tg")
		p = read()
		require.NotNil(t, p.TelegramName)
		assert.Equal(t, "erin_tg", *p.TelegramName)

		require.NoError(t, e.mod.UpdatePermissions(ctx, id, map[string]bool{"billing": true}))
		assert.True(t, read().Permissions["billing"])

		require.NoError(t, e.mod.Rename(ctx, id, "erin2"))
		assert.Equal(t, "erin2", read().Name)

		require.NoError(t, e.mod.Close(ctx))
		got, err := e.mod.Lookup(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, "erin2", got.Name)
		assert.Equal(t, "erin2", read().Name)
	})
}

// Options.QueryHooks says whether bun's query hooks must see every query:
// with it, each read of a user by id reaches them (tracing's spans, a
// test's recorder); without, SQLite reads through the prepared statement,
// which they do not see, and PostgreSQL, which prepares none of its own,
// as before.
func TestReadByIDAndQueryHooks(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		hooks bool
	}{{"hooks", true}, {"no hooks", false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			storagetest.Run(t, func(t *testing.T, db *bun.DB) {
				hooked, queries := storagetest.RecordQueries(db)
				e := newEnv(t, hooked, func(o *users.Options) { o.QueryHooks = c.hooks })
				before := len(queries.Naming("users"))
				for range 2 {
					u, err := e.mod.Lookup(t.Context(), auth.RootUserID)
					require.NoError(t, err)
					assert.Equal(t, "root", u.Name)
				}
				seen := len(queries.Naming("users")) - before
				switch {
				case c.hooks, storage.IsPostgres(db):
					assert.Equal(t, 2, seen, "each read reaches the hooks")
				default:
					assert.Zero(t, seen, "the reads ran the prepared statement")
				}
			})
		})
	}
}
