package rpctest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/client"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// A registry under a prefix answers the Go client alike over HTTP and
// WebSocket, and a socket from WebSocket is ready for events at once.
func TestServe(t *testing.T) {
	t.Parallel()
	reg := rpc.New(rpc.Options{Prefix: "/api"})
	reg.Register(rpc.Method{
		ID: "/v1/hello", Title: "Hello", Permissions: []string{auth.Anyone},
		Params:  []rpc.Param{{Name: "name"}},
		Handler: func(ctx context.Context, name string) (string, error) { return "Hello, " + name, nil },
	})
	s := rpctest.Serve(t, reg, "/api")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws := s.WebSocket(client.Options{Encoding: client.MessagePack})
	for _, c := range []*client.Client{s.HTTP(client.Options{}), ws} {
		got, err := client.Call[string](ctx, c, "/v1/hello", "Ann")
		require.NoError(t, err)
		assert.Equal(t, "Hello, Ann", got)
		_, err = c.Call(ctx, "/v1/hello")
		assert.Equal(t, rpc.CodeInvalidParams, client.Code(err))
	}

	news := make(chan client.Event, 1)
	ws.Notify("news", news)
	require.NoError(t, reg.Publish(ctx, "news", []string{rpc.GroupAll}, "now"))
	select {
	case e := <-news:
		var what string
		require.NoError(t, e.Decode(&what))
		assert.Equal(t, "now", what)
	case <-ctx.Done():
		t.Fatal("no event")
	}
}
