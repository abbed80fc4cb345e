package users_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage/storagetest"
)

// profile/read reads the caller's record through a statement prepared once
// (on SQLite): each answer is the table's at that moment, after every kind
// of change, and reads go on, unprepared, once the module is closed.
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

// A database with query hooks reads unprepared, so that every query still
// reaches them (tracing's spans, a test's recorder).
func TestProfileReadReachesQueryHooks(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		hooked, queries := storagetest.RecordQueries(db)
		e := newEnv(t, hooked)
		tok := e.root(t)
		e.ok(t, tok, "/v1/profile/read") // the token's principal is cached now
		before := len(queries.Naming("users"))
		e.ok(t, tok, "/v1/profile/read")
		assert.Len(t, queries.Naming("users"), before+1)
	})
}
