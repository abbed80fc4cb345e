package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/benchkit"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// BenchmarkApp compares a call of /v1/test/test through the whole example
// app (every module mounted, a session token resolved from the auth cache,
// the schema check, the call log on) with a bare net/http handler that
// decodes and encodes the same JSON by hand, in one run. SPEC §8's bar is
// 2x.
func BenchmarkApp(b *testing.B) {
	body := []byte(`["world"]`)

	b.Run("bare", func(b *testing.B) {
		benchkit.Post(b, benchkit.BareHandler(), "/api/v1/test/test", "", body, `"data":"world"`)
	})

	b.Run("app-sqlite", func(b *testing.B) { benchApp(b, storagetest.SQLiteDSN(b), body) })
	b.Run("app-postgres", func(b *testing.B) { benchApp(b, storagetest.PostgresDSN(b), body) })
}

// benchApp calls through the example app on the given database, as root.
// It reports dropped/op: calls offered faster than the call log stores them
// are dropped past its queue (and counted), and a dropped row costs nothing
// to store, so long runs at full speed read cheaper than every row stored.
func benchApp(b *testing.B, dsn string, body []byte) {
	a, token := benchAppSignedIn(b, dsn)
	before := a.calls.Stats().Dropped
	benchkit.Post(b, a.Handler(), "/api/v1/test/test", token, body, `"data":"world"`)
	b.ReportMetric(float64(a.calls.Stats().Dropped-before)/float64(b.N), "dropped/op")
}

// greetParams is the struct a method of the benchmark takes, with its
// checks in tags; checkGreet is the same checks by hand.
type greetParams struct {
	Name  string `json:"name" jsonschema:"minLength=1,maxLength=64"`
	Count int    `json:"count" jsonschema:"minimum=0,maximum=1000"`
}

type greeting struct {
	Greeting string `json:"greeting"`
	Count    int    `json:"count"`
}

func greet(p greetParams) greeting { return greeting{"Hello, " + p.Name, p.Count} }

func checkGreet(p greetParams) bool {
	n := utf8.RuneCountInString(p.Name)
	return n >= 1 && n <= 64 && p.Count >= 0 && p.Count <= 1000
}

// BenchmarkAppStruct calls a method taking a struct through the whole
// example app, every call's row stored by the call log, beside a
// hand-written handler doing the same checks (benchkit.HandWritten), in one
// run. The clock runs until the writer has stored all but the last partial
// batch, so the rows' cost is in ns/op; dropped/op must stay 0. Issue 14's
// bars: at most 1.8x on SQLite, 1.6x on PostgreSQL. "app-nolog" is the same
// method with the call log off for it (on SQLite), the request path alone:
// what app-sqlite costs beyond it is what storing a row costs. On
// PostgreSQL the server does part of the work in processes of its own, on
// the same cores: server-cpu-ns/op is what its backends spent per call.
// The "-parallel" cases call from GOMAXPROCS goroutines at once
// (benchkit.PostParallel), so that the writer competes with the calls for
// every core.
func BenchmarkAppStruct(b *testing.B) {
	body := []byte(`[{"name":"world","count":3}]`)
	const path, want = "/api/v1/bench/greet", `"data":{"greeting":"Hello, world","count":3}`
	for _, mode := range []struct {
		suffix string
		post   func(b *testing.B, h http.Handler, path, token string, body []byte, want string)
	}{{"", benchkit.Post}, {"-parallel", benchkit.PostParallel}} {
		b.Run("hand"+mode.suffix, func(b *testing.B) {
			token, _, err := auth.NewToken(auth.KindSession)
			if err != nil {
				b.Fatal(err)
			}
			mode.post(b, benchkit.HandWritten(token, checkGreet, greet), path, token, body, want)
		})
		for _, db := range []struct {
			name  string
			dsn   func(testing.TB) string
			noLog bool
		}{{"app-nolog", storagetest.SQLiteDSN, true}, {"app-sqlite", storagetest.SQLiteDSN, false}, {"app-postgres", storagetest.PostgresDSN, false}} {
			b.Run(db.name+mode.suffix, func(b *testing.B) {
				a, token := benchAppSignedIn(b, db.dsn(b))
				a.reg.Register(rpc.Method{
					ID: "/v1/bench/greet", Title: "Greet", Permissions: []string{auth.User}, NoCallLog: db.noLog,
					Params:  []rpc.Param{{Name: "params"}},
					Handler: func(ctx context.Context, p greetParams) (greeting, error) { return greet(p), nil },
				})
				before := a.calls.Stats()
				server := benchkit.SampleServerCPU(b.Context(), a.db)
				cpu := benchkit.ProcessCPU()
				mode.post(b, a.Handler(), path, token, body, want)
				for a.calls.Stats().Queued >= calllogBatch {
					time.Sleep(100 * time.Microsecond)
				}
				benchkit.ReportCPU(b, cpu) // the writer's work included
				b.StopTimer()
				if storage.IsPostgres(a.db) {
					d := benchkit.SampleServerCPU(b.Context(), a.db).Since(server)
					b.ReportMetric(float64(d)/float64(b.N), "server-cpu-ns/op")
				}
				s := a.calls.Stats()
				b.ReportMetric(float64(s.Dropped-before.Dropped)/float64(b.N), "dropped/op")
			})
		}
	}
}

// calllogBatch is the call log's default batch: a smaller rest waits for
// the writer's next tick.
const calllogBatch = 1000

// benchAppSignedIn starts the example app on dsn and signs in as root.
func benchAppSignedIn(b *testing.B, dsn string) (*app, string) {
	ctx := context.Background()
	a, err := newApp(ctx, config{
		DB:           dsn,
		RootPassword: "root-password-for-bench",
		Logger:       slog.New(slog.DiscardHandler),
		Out:          io.Discard,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = a.Shutdown(ctx)
		_ = a.Close()
	})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/session/signin",
		bytes.NewReader([]byte(`[{"username":"root","password":"root-password-for-bench"}]`)))
	req.Header.Set("Content-Type", "application/json")
	a.Handler().ServeHTTP(rec, req)
	var signin struct {
		Result struct {
			Data struct {
				Token string `json:"token"`
			} `json:"data"`
		} `json:"result"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &signin); err != nil || signin.Result.Data.Token == "" {
		b.Fatalf("sign in: %s", rec.Body)
	}
	return a, signin.Result.Data.Token
}
