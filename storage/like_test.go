package storage_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

func TestEscapeLike(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "plain", storage.EscapeLike("plain"))
	assert.Equal(t, `100\% \_ \\d`, storage.EscapeLike(`100% _ \d`))

	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		_, err := db.ExecContext(ctx, "CREATE TABLE words (w TEXT NOT NULL)")
		require.NoError(t, err)
		for _, w := range []string{"100%", "1000", "a_b", "axb", `c\d`, "cd", `c\\d`} {
			_, err := db.ExecContext(ctx, "INSERT INTO words (w) VALUES (?)", w)
			require.NoError(t, err)
		}
		for text, want := range map[string][]string{
			"0%":  {"100%"},
			"_":   {"a_b"},
			`c\d`: {`c\d`},
			`\`:   {`c\d`, `c\\d`},
			"":    {"100%", "1000", "a_b", "axb", `c\d`, "cd", `c\\d`},
		} {
			var got []string
			err := db.NewSelect().Table("words").Column("w").
				Where(`w LIKE ? ESCAPE '\'`, "%"+storage.EscapeLike(text)+"%").
				OrderExpr("w").Scan(ctx, &got)
			require.NoError(t, err)
			assert.ElementsMatch(t, want, got, "LIKE %q", text)
		}
	})
}
