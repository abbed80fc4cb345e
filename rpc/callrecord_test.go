package rpc_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/rpc"
)

// A call's record carries the client's address, declined calls too; with
// a trusted proxy's header, the address the header names.
func TestCallRecordClientAddr(t *testing.T) {
	f := newFixture(t, rpc.Options{TrustedProxyHeader: "X-Forwarded-For"})
	f.c.From("203.0.113.7").As(f.plain).Call(t, "/v1/t/whoami")
	assert.Equal(t, "203.0.113.7", f.obs.last().ClientAddr)
	f.c.From("2001:db8::5").Call(t, "/v1/t/whoami")
	rec := f.obs.last()
	assert.True(t, rec.Declined)
	assert.Equal(t, "2001:db8::5", rec.ClientAddr)
	f.c.From("127.0.0.1").With("X-Forwarded-For", "198.51.100.9").Call(t, "/v1/t/echo", 1)
	assert.Equal(t, "198.51.100.9", f.obs.last().ClientAddr)
}
