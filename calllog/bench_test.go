package calllog_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// BenchmarkCallLog compares a trivial method called through the whole
// handler (bearer token from the auth cache, schema check, envelope) with
// the call log off (the method's NoCallLog) and on (a real Module writing to
// PostgreSQL when TEST_POSTGRES_DSN is set, else SQLite). The bar: on costs
// at most 10% more than off.
func BenchmarkCallLog(b *testing.B) {
	for _, c := range []struct {
		name string
		log  bool
		opts calllog.Options
	}{{"off", false, calllog.Options{}}, {"on", true, calllog.Options{}}} {
		b.Run(c.name, func(b *testing.B) {
			reg, token := benchRegistry(b, !c.log)
			if c.log {
				mod, err := calllog.Mount(b.Context(), reg, benchDB(b), c.opts)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = mod.Close(context.Background()) })
				defer func() {
					s := mod.Stats()
					b.ReportMetric(float64(s.Dropped)/float64(b.N), "dropped/op")
				}()
			}
			benchCalls(b, reg, token)
		})
	}
}

func benchDB(b *testing.B) *bun.DB {
	if os.Getenv(storagetest.EnvPostgresDSN) != "" {
		return storagetest.Postgres(b)
	}
	return storagetest.SQLite(b)
}

func benchRegistry(b *testing.B, noCallLog bool) (*rpc.Registry, string) {
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
	body := []byte(`["world"]`)
	req := httptest.NewRequest(http.MethodPost, "/v1/hello", nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	check := httptest.NewRecorder()
	req.Body = io.NopCloser(bytes.NewReader(body))
	h.ServeHTTP(check, req)
	if check.Code != http.StatusOK || !bytes.Contains(check.Body.Bytes(), []byte(`"Hello, world"`)) {
		b.Fatalf("unexpected answer %d: %s", check.Code, check.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		req.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(rec, req)
	}
}

// BenchmarkWriterPostgres measures the rows per second the writer sustains
// into PostgreSQL: b.N records are queued at once and the clock stops when
// the last is written. The bar: at least 50,000 rows/s.
func BenchmarkWriterPostgres(b *testing.B) {
	db := storagetest.Postgres(b)
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	mod, err := calllog.Mount(b.Context(), reg, db, calllog.Options{QueueSize: b.N + 1, FlushInterval: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = mod.Close(context.Background()) }()
	start := time.Now().Add(-time.Hour)
	b.ResetTimer()
	began := time.Now()
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
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rows/s")
}
