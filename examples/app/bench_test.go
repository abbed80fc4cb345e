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

	"github.com/authrpc/authrpc/rpc/rpctest"
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
		rpctest.Bench(b, rpctest.BareHandler(), "/api/v1/test/test", "", body, `"data":"world"`)
	})

	b.Run("app-sqlite", func(b *testing.B) { benchApp(b, storagetest.SQLiteDSN(b), body) })
	b.Run("app-postgres", func(b *testing.B) { benchApp(b, storagetest.PostgresDSN(b), body) })
}

// benchApp calls through the example app on the given database, as root.
// It reports dropped/op: calls offered faster than the call log stores them
// are dropped past its queue (and counted), and a dropped row costs nothing
// to store, so long runs at full speed read cheaper than every row stored.
func benchApp(b *testing.B, dsn string, body []byte) {
	ctx := context.Background()
	{
		a, err := newApp(ctx, config{
			DB:           dsn,
			RootPassword: "root-password-for-bench",
			Logger:       slog.New(slog.DiscardHandler),
			Out:          io.Discard,
		})
		if err != nil {
			b.Fatal(err)
		}
		defer func() {
			_ = a.Shutdown(ctx)
			_ = a.Close()
		}()
		h := a.Handler()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/api/v1/session/signin",
			bytes.NewReader([]byte(`[{"username":"root","password":"root-password-for-bench"}]`)))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
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
		before := a.calls.Stats().Dropped
		rpctest.Bench(b, h, "/api/v1/test/test", signin.Result.Data.Token, body, `"data":"world"`)
		b.ReportMetric(float64(a.calls.Stats().Dropped-before)/float64(b.N), "dropped/op")
	}
}
