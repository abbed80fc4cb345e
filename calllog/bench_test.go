package calllog_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/internal/benchkit"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// BenchmarkCallLog compares a trivial method called through the whole
// handler (bearer token from the auth cache, schema check, envelope) with
// the call log off (the method's NoCallLog) and on (a real Module writing to
// PostgreSQL when TEST_POSTGRES_DSN is set, else SQLite). The bar: on costs
// at most 10% more than off.
//
// In "on" the loop calls far faster than any database takes rows, so the
// writer (and the database server, on the same machine) run flat out beside
// the loop and compete with it for CPU; past the queue's bound rows are
// dropped (reported as dropped/op). "on-held" measures what logging costs
// the call itself: the database is locked by another connection throughout,
// so the writer waits and every record stays queued.
func BenchmarkCallLog(b *testing.B) {
	b.Run("off", func(b *testing.B) {
		reg, token := benchRegistry(b, true)
		benchCalls(b, reg, token)
	})
	b.Run("on", func(b *testing.B) {
		reg, token := benchRegistry(b, false)
		mod := benchMount(b, reg, benchDB(b), calllog.Options{})
		benchCalls(b, reg, token)
		b.StopTimer()
		b.ReportMetric(float64(mod.Stats().Dropped)/float64(b.N), "dropped/op")
	})
	b.Run("on-held", func(b *testing.B) {
		reg, token := benchRegistry(b, false)
		dsn := storagetest.SQLiteDSN(b)
		db, err := storage.Open(b.Context(), dsn)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = db.Close() })
		mod := benchMount(b, reg, db, calllog.Options{QueueSize: 1 << 30})
		// Another connection holds the write lock until the loop ends.
		holder, err := storage.Open(b.Context(), dsn)
		if err != nil {
			b.Fatal(err)
		}
		tx, err := holder.BeginTx(b.Context(), nil) // immediate: takes the write lock
		if err != nil {
			b.Fatal(err)
		}
		benchCalls(b, reg, token)
		b.StopTimer()
		if s := mod.Stats(); s.Written != 0 || s.Dropped != 0 {
			b.Fatalf("the writer was not held: %+v", s)
		}
		// Give up the queued rows at once: writing them is not what is measured.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = mod.Close(ctx)
		_ = tx.Rollback()
		_ = holder.Close()
	})
}

func benchMount(b *testing.B, reg *rpc.Registry, db *bun.DB, opts calllog.Options) *calllog.Module {
	mod, err := calllog.Mount(b.Context(), reg, db, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = mod.Close(ctx)
	})
	return mod
}

func benchDB(b *testing.B) *bun.DB {
	if os.Getenv(storagetest.EnvPostgresDSN) != "" {
		return storagetest.Postgres(b)
	}
	return storagetest.SQLite(b)
}

func benchRegistry(b *testing.B, noCallLog bool) (*rpc.Registry, string) {
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Permissions: auth.NewPermissions(auth.Permission{Name: "admin"})})
	token, digest, err := auth.NewToken(auth.KindSession)
	if err != nil {
		b.Fatal(err)
	}
	user := &auth.Principal{UserID: 2, Username: "bench", Kind: auth.KindSession, TokenID: 1}
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(ctx context.Context, t string) (*auth.Principal, error) {
		if bytes.Equal(auth.Digest(t), digest) {
			return user, nil
		}
		return nil, auth.ErrUnknownToken
	}))
	reg.Register(rpc.Method{
		ID: "/v1/hello", Title: "Hello", Permissions: []string{auth.User}, NoCallLog: noCallLog,
		Params: []rpc.Param{{Name: "name"}},
		Handler: func(ctx context.Context, name string) (string, error) {
			return "Hello, " + name, nil
		},
	})
	return reg, token
}

func benchCalls(b *testing.B, h http.Handler, token string) {
	b.Helper()
	benchkit.Post(b, h, "/v1/hello", token, []byte(`["world"]`), `"Hello, world"`)
}

// BenchmarkWriter measures the rows per second the writer sustains, and
// the CPU time it spends per row (and on PostgreSQL the server's backends,
// server-cpu-ns/op): b.N records are queued at once and the clock stops
// when the last is written (the bar: at least 50,000 rows/s).
func BenchmarkWriter(b *testing.B) {
	for _, c := range []struct {
		name string
		db   func(testing.TB) *bun.DB
		opts func(calllog.Options) calllog.Options
	}{
		{"sqlite", storagetest.SQLite, func(o calllog.Options) calllog.Options { return o }},
		{"postgres", storagetest.Postgres, func(o calllog.Options) calllog.Options { return o }},
	} {
		b.Run(c.name, func(b *testing.B) {
			db := c.db(b)
			reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Permissions: auth.NewPermissions(auth.Permission{Name: "admin"})})
			mod := benchMount(b, reg, db, c.opts(calllog.Options{QueueSize: b.N + 1, FlushInterval: time.Millisecond}))
			start := time.Now().Add(-time.Hour)
			server := benchkit.SampleServerCPU(b.Context(), db)
			b.ResetTimer()
			began, cpu := time.Now(), benchkit.ProcessCPU()
			for i := range b.N {
				mod.ObserveCall(rpc.CallRecord{
					Method: "/v1/bench", UserID: int64(i % 50), Start: start.Add(time.Duration(i) * time.Microsecond),
					Runtime: time.Duration(i%1000) * time.Microsecond, Code: 200, StatusText: "OK",
				})
			}
			for mod.Stats().Written < uint64(b.N) {
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(began)
			b.StopTimer()
			benchkit.ReportCPU(b, cpu)
			if storage.IsPostgres(db) {
				d := benchkit.SampleServerCPU(b.Context(), db).Since(server)
				b.ReportMetric(float64(d)/float64(b.N), "server-cpu-ns/op")
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rows/s")
		})
	}
}

// BenchmarkObserve measures what recording a call costs the caller's
// goroutine (the queue and the statistics; the writer waits for a tick an
// hour away): without a client address, the baseline, and with an IPv4
// and an IPv6 one, which the queue parses into its pointer-free entry.
func BenchmarkObserve(b *testing.B) {
	for _, c := range []struct{ name, addr string }{{"no-address", ""}, {"ipv4", "203.0.113.7"}, {"ipv6", "2001:db8::7"}} {
		b.Run(c.name, func(b *testing.B) {
			reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Permissions: auth.NewPermissions(auth.Permission{Name: "admin"})})
			mod := benchMount(b, reg, storagetest.SQLite(b), calllog.Options{QueueSize: b.N + 1, BatchSize: b.N + 1, FlushInterval: time.Hour, StatsInterval: time.Hour})
			rec := rpc.CallRecord{Method: "/v1/bench", UserID: 2, Start: time.Now(), Code: 200, StatusText: "OK", ClientAddr: c.addr}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				rec.Runtime = time.Duration(i%1000) * time.Microsecond
				mod.ObserveCall(rec)
			}
		})
	}
}
