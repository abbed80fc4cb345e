package rpc_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// A refresh (auth.Invalidation.Refresh: the credentials stay valid) leaves
// the sockets of the callers it covers open; an invalidation that ends
// them closes those sockets.
func TestWebSocketRefreshKeepsSockets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	ann := dialWS(t, srv, f.user)
	ann.sendText(`{"jsonrpc":"2.0","method":"/ping","id":1}`)
	ann.readText() // joined

	f.reg.Auth().Invalidate(auth.Invalidation{UserID: 7, Refresh: true})
	f.reg.Auth().Invalidate(auth.Invalidation{Kind: auth.KindSession, TokenID: 70, Refresh: true})
	f.reg.Auth().Invalidate(auth.Invalidation{Refresh: true})
	ann.sendText(`{"jsonrpc":"2.0","method":"/v1/t/whoami","id":2}`)
	assert.Contains(t, ann.readText(), `"data":"ann"`)

	f.reg.Auth().Invalidate(auth.Invalidation{UserID: 7})
	code, _ := ann.closeStatus(2 * time.Second)
	assert.Equal(t, rpc.CloseSignedOut, code)
}
