package storage_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

func TestConstraintErrors(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		for _, q := range []string{
			"CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
			"CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent (id))",
			"CREATE TABLE pair (a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (a, b))",
			"INSERT INTO parent (id, name) VALUES (1, 'one')",
			"INSERT INTO child (id, parent_id) VALUES (1, 1)",
			"INSERT INTO pair (a, b) VALUES (1, 2)",
		} {
			_, err := db.ExecContext(ctx, q)
			require.NoError(t, err, q)
		}

		exec := func(q string) error {
			_, err := db.ExecContext(ctx, q)
			require.Error(t, err, q)
			return fmt.Errorf("wrapped: %w", err)
		}

		for _, q := range []string{
			"INSERT INTO parent (id, name) VALUES (2, 'one')",    // unique column
			"INSERT INTO parent (id, name) VALUES (1, 'two')",    // integer primary key
			"INSERT INTO pair (a, b) VALUES (1, 2)",              // composite primary key
			"UPDATE parent SET name = 'one' WHERE id = 2 OR 1=1", // unique, by update
		} {
			if q == "UPDATE parent SET name = 'one' WHERE id = 2 OR 1=1" {
				_, err := db.ExecContext(ctx, "INSERT INTO parent (id, name) VALUES (2, 'two')")
				require.NoError(t, err)
			}
			err := exec(q)
			assert.True(t, storage.IsUniqueViolation(err), "%s: %v", q, err)
			assert.False(t, storage.IsForeignKeyViolation(err), q)
		}

		for _, q := range []string{
			"INSERT INTO child (id, parent_id) VALUES (2, 99)", // missing parent
			"DELETE FROM parent WHERE id = 1",                  // still referenced
		} {
			err := exec(q)
			assert.True(t, storage.IsForeignKeyViolation(err), "%s: %v", q, err)
			assert.False(t, storage.IsUniqueViolation(err), q)
		}

		err := exec("INSERT INTO parent (id) VALUES (3)") // NOT NULL
		assert.False(t, storage.IsUniqueViolation(err), err)
		assert.False(t, storage.IsForeignKeyViolation(err), err)
		err = exec("SELECT * FROM no_such_table")
		assert.False(t, storage.IsUniqueViolation(err), err)
	})
}

func TestConstraintErrorsOther(t *testing.T) {
	t.Parallel()
	assert.False(t, storage.IsUniqueViolation(nil))
	assert.False(t, storage.IsForeignKeyViolation(nil))
	assert.False(t, storage.IsUniqueViolation(errors.New("UNIQUE constraint failed")))
}
