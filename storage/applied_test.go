package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

func TestApplied(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		_, err := storage.ReadApplied(ctx, db)
		require.Error(t, err, "no record table yet: the schema is not there")

		noop := func(context.Context, bun.Tx) error { return nil }
		require.NoError(t, storage.Migrate(ctx, db, "notes", []storage.Migration{
			{Version: 1, Name: "one", Up: noop}, {Version: 2, Name: "two", Up: noop},
		}, quiet))
		require.NoError(t, storage.Migrate(ctx, db, "tags", []storage.Migration{{Version: 1, Name: "one", Up: noop}}, quiet))
		require.NoError(t, storage.Migrate(ctx, db, "other", []storage.Migration{{Version: 1, Name: "one", Up: noop}},
			quiet, storage.WithTablePrefix("app_")))

		applied, err := storage.ReadApplied(ctx, db)
		require.NoError(t, err)
		assert.Equal(t, storage.Applied{"notes": {1, 2}, "tags": {1}}, applied, "the prefix's table is another")
		require.NoError(t, applied.Check(ctx, db))
		require.NoError(t, storage.Applied{"notes": {2}}.Check(ctx, db), "a subset holds")

		_, err = db.NewDelete().Table("authrpc_migrations").Where("module = 'notes' AND version = 2").Exec(ctx)
		require.NoError(t, err)
		err = applied.Check(ctx, db)
		var missing *storage.MissingMigrationsError
		require.ErrorAs(t, err, &missing)
		assert.Equal(t, storage.Applied{"notes": {2}}, missing.Missing)
		assert.EqualError(t, err, "storage: migrations not applied: notes 2")
		err = storage.Applied{"notes": {2, 3}, "gone": {1}}.Check(ctx, db)
		assert.EqualError(t, err, "storage: migrations not applied: gone 1; notes 2, 3")

		prefixed, err := storage.ReadApplied(ctx, db, storage.WithTablePrefix("app_"))
		require.NoError(t, err)
		assert.Equal(t, storage.Applied{"other": {1}}, prefixed)
		require.NoError(t, prefixed.Check(ctx, db, storage.WithTablePrefix("app_")))

		_, err = storage.ReadApplied(ctx, db, storage.WithTablePrefix("bad prefix"))
		require.Error(t, err)
		assert.False(t, errors.As(err, &missing))
	})
}
