package audit_test

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/audit"
	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// BenchmarkChange is what the trail costs a change: a transaction that
// updates a row (the baseline), and the same with its entry recorded.
func BenchmarkChange(b *testing.B) {
	for _, dbName := range []string{"sqlite", "postgres"} {
		b.Run(dbName, func(b *testing.B) {
			db := storagetest.Open(b, dbName)
			e := newEnv(b, db, audit.Options{})
			ctx := auth.NewContext(context.Background(), &auth.Principal{UserID: 7, Kind: auth.KindSession, TokenID: 70})
			if _, err := db.ExecContext(ctx, "CREATE TABLE things (id BIGINT PRIMARY KEY, name TEXT NOT NULL)"); err != nil {
				b.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, "INSERT INTO things (id, name) VALUES (1, 'a')"); err != nil {
				b.Fatal(err)
			}
			change := func(record bool) func(b *testing.B) {
				return func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
							if _, err := tx.ExecContext(ctx, "UPDATE things SET name = ? WHERE id = 1", "b"); err != nil {
								return err
							}
							if !record {
								return nil
							}
							return e.mod.Record(ctx, tx, audit.Entry{Action: "things.rename", Target: "1", Changes: map[string]any{"name": "b"}})
						})
						if err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			b.Run("baseline", change(false))
			b.Run("audited", change(true))
		})
	}
}
