package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// BenchmarkCall compares a trivial method called through the whole handler
// (bearer token resolved from the auth cache, schema check, envelope) with a
// bare net/http handler that decodes and encodes the same JSON by hand.
// The spec's bar: full costs at most 2x bare.
func BenchmarkCall(b *testing.B) {
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
			}{"2.0", result{200, "OK", false, "Hello, " + params[0], map[string]any{}}})
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(out)
		})
		run(b, h, body, "")
	})

	b.Run("full", func(b *testing.B) {
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
			ID: "/v1/hello", Title: "Hello", Permissions: []string{auth.User},
			Params: []rpc.Param{{Name: "name"}},
			Handler: func(ctx context.Context, name string) (string, error) {
				return "Hello, " + name, nil
			},
		})
		run(b, reg, body, token)
	})
}

func run(b *testing.B, h http.Handler, body []byte, token string) {
	b.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/hello", nil)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
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
