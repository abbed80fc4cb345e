package rpc_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// BenchmarkCall compares a trivial method called through the whole handler
// (bearer token resolved from the auth cache, schema check, envelope) with a
// bare net/http handler that decodes and encodes the same JSON by hand.
// The spec's bar: full costs at most 2x bare.
func BenchmarkCall(b *testing.B) {
	body := []byte(`["world"]`)

	b.Run("bare", func(b *testing.B) {
		rpctest.Bench(b, rpctest.BareHandler(), "/v1/echo", "", body, `"data":"world"`)
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
			ID: "/v1/echo", Title: "Echo", Permissions: []string{auth.User},
			Params:  []rpc.Param{{Name: "text"}},
			Handler: func(ctx context.Context, text string) (string, error) { return text, nil },
		})
		rpctest.Bench(b, reg, "/v1/echo", token, body, `"data":"world"`)
	})
}
