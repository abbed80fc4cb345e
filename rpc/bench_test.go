package rpc_test

import (
	"testing"

	"github.com/authrpc/authrpc/internal/benchkit"
	"github.com/authrpc/authrpc/rpc"
)

// BenchmarkCall compares a trivial method called through the whole handler
// (bearer token resolved from the auth cache, schema check, envelope) with a
// bare net/http handler that decodes and encodes the same JSON by hand.
// The spec's bar: full costs at most 2x bare.
func BenchmarkCall(b *testing.B) {
	body := []byte(`["world"]`)

	b.Run("bare", func(b *testing.B) {
		benchkit.Post(b, benchkit.BareHandler(), "/v1/echo", "", body, `"data":"world"`)
	})

	b.Run("full", func(b *testing.B) {
		reg, token := benchRegistry(b, rpc.Options{})
		benchkit.Post(b, reg, "/v1/echo", token, body, `"data":"world"`)
	})
}
