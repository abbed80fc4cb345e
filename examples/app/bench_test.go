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
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var params []string
			if err := json.NewDecoder(r.Body).Decode(&params); err != nil || len(params) != 1 {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			type result struct {
				Status     int            `json:"status"`
				StatusText string         `json:"status_text"`
				Exception  bool           `json:"exception"`
				Data       string         `json:"data"`
				Meta       map[string]any `json:"meta"`
			}
			out, _ := json.Marshal(struct {
				JSONRPC string `json:"jsonrpc"`
				Result  result `json:"result"`
			}{"2.0", result{200, "OK", false, params[0], map[string]any{}}})
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(out)
		})
		benchCalls(b, h, "", body)
	})

	b.Run("app-sqlite", func(b *testing.B) { benchApp(b, storagetest.SQLiteDSN(b), body) })
	b.Run("app-postgres", func(b *testing.B) { benchApp(b, storagetest.PostgresDSN(b), body) })
}

// benchApp calls through the example app on the given database, as root.
func benchApp(b *testing.B, dsn string, body []byte) {
	{
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
		benchCalls(b, h, signin.Result.Data.Token, body)
	}
}

func benchCalls(b *testing.B, h http.Handler, token string, body []byte) {
	b.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/test/test", nil)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	check := httptest.NewRecorder()
	req.Body = io.NopCloser(bytes.NewReader(body))
	h.ServeHTTP(check, req)
	if check.Code != http.StatusOK || !bytes.Contains(check.Body.Bytes(), []byte(`"world"`)) {
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
