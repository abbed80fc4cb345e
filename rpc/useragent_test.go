package rpc_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// A handler reads the caller's User-Agent from its Call: the HTTP
// request's, or for a WebSocket message the upgrade request's.
func TestCallUserAgentBothTransports(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{})
	reg.Section("/v1", "Agents").Register(rpc.Method{
		ID: "agent", Title: "User agent", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) (string, error) { return rpc.CallFromContext(ctx).UserAgent, nil },
	})
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/agent", strings.NewReader("[]"))
	require.NoError(t, err)
	req.Header.Set("User-Agent", "agent-over-http/1.0")
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var body struct{ Result struct{ Data string } }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	assert.Equal(t, "agent-over-http/1.0", body.Result.Data)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("User-Agent", "agent-over-websocket/2.0")
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/",
		&websocket.DialOptions{Subprotocols: []string{rpc.Subprotocol}, HTTPHeader: h})
	require.NoError(t, err)
	defer conn.CloseNow()
	require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","method":"/v1/agent","params":[],"id":1}`)))
	_, msg, err := conn.Read(ctx)
	require.NoError(t, err)
	assert.Contains(t, string(msg), `"agent-over-websocket/2.0"`)
}
