package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/client"
	"github.com/authrpc/authrpc/internal/benchkit"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

func TestDriveBare(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.StripPrefix("/api", benchkit.BareHandler()))
	defer srv.Close()
	var out bytes.Buffer
	err := run(context.Background(), []string{"run", "-url", srv.URL + "/api", "-c", "4", "-d", "300ms"}, &out)
	require.NoError(t, err)
	assert.Contains(t, out.String(), "errors 0,")
	assert.Contains(t, out.String(), "req/s")
}

func TestBadParamsCountAsErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.StripPrefix("/api", benchkit.BareHandler()))
	defer srv.Close()
	var callers []*client.Client
	for range 2 {
		c, err := client.New(srv.URL+"/api", client.Options{})
		require.NoError(t, err)
		callers = append(callers, c)
	}
	r, err := load(context.Background(), callers, "/v1/test/test", []json.RawMessage{json.RawMessage(`1`)}, 200*time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, r.Requests, r.Errors)
	assert.True(t, strings.Contains(r.String(), "errors"))
}

// echoRegistry serves /api/v1/test/test as the example app does.
func echoRegistry() *rpc.Registry {
	reg := rpc.New(rpc.Options{Prefix: "/api"})
	reg.Register(rpc.Method{
		ID: "/v1/test/test", Title: "Test", Permissions: []string{auth.Anyone},
		Params:  []rpc.Param{{Name: "args?"}},
		Handler: func(ctx context.Context, args *string) (any, error) { return args, nil },
	})
	return reg
}

// Every transport and encoding drives a registry without errors.
func TestDriveRegistry(t *testing.T) {
	t.Parallel()
	api := rpctest.Serve(t, echoRegistry(), "/api").APIURL()
	for _, args := range [][]string{
		{"-transport", "http"},
		{"-transport", "http", "-encoding", "msgpack"},
		{"-transport", "ws"},
		{"-transport", "ws", "-encoding", "msgpack"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"run", "-url", api, "-c", "4", "-d", "200ms"}, args...), &out)
		require.NoError(t, err, args)
		assert.Contains(t, out.String(), "errors 0,", args)
	}
	var out bytes.Buffer
	assert.Error(t, run(context.Background(), []string{"run", "-url", api, "-transport", "carrier-pigeon"}, &out))
}
