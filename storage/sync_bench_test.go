package storage_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// BenchmarkSyncPropagation times one message from a Publish on one
// instance to the subscriber on another, on PostgreSQL: ns/op is the
// one-way time. Beside it, in the same run, the baseline: a bare pg_notify
// through a pool to a pgx connection that LISTENs. The contract promises
// propagation within a second; the tests only wait for it.
func BenchmarkSyncPropagation(b *testing.B) {
	dsn := storagetest.PostgresDSN(b)
	ctx := context.Background()

	b.Run("pg_notify", func(b *testing.B) {
		db := openPostgres(b, dsn)
		conn, err := pgx.Connect(ctx, dsn)
		require.NoError(b, err)
		b.Cleanup(func() { _ = conn.Close(context.Background()) })
		_, err = conn.Exec(ctx, "LISTEN bench")
		require.NoError(b, err)
		for b.Loop() {
			_, err := db.ExecContext(ctx, "SELECT pg_notify('bench', 'u:12')")
			require.NoError(b, err)
			n, err := conn.WaitForNotification(ctx)
			require.NoError(b, err)
			require.Equal(b, "u:12", n.Payload)
		}
	})

	b.Run("sync", func(b *testing.B) {
		a := newSync(b, openPostgres(b, dsn), storage.SyncOptions{})
		other := newSync(b, openPostgres(b, dsn), storage.SyncOptions{})
		in := subscribe(other.Channel("auth"))
		watch(other.Channel("auth")).until(b, true, eventWait)
		for b.Loop() {
			require.NoError(b, a.Channel("auth").Publish(ctx, "u:12"))
			require.Equal(b, "u:12", in.next(b, eventWait).payload)
		}
	})
}
