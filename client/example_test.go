package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/client"
	"github.com/authrpc/authrpc/rpc"
)

// A client calls a method, decodes its data into a Go type, and branches
// on a refusal.
func Example() {
	// A server with one method, on a real socket.
	reg := rpc.New(rpc.Options{})
	reg.Register(rpc.Method{
		ID: "/v1/hello", Title: "Say hello", Permissions: []string{auth.Anyone},
		Params: []rpc.Param{{Name: "name"}},
		Handler: func(ctx context.Context, name string) (map[string]string, error) {
			return map[string]string{"greeting": "Hello, " + name}, nil
		},
	})
	srv := httptest.NewServer(reg)
	defer srv.Close()

	ctx := context.Background()
	c, err := client.New(srv.URL, client.Options{}) // "ws://…" for a WebSocket
	if err != nil {
		panic(err)
	}
	defer c.Close()

	type hello struct {
		Greeting string `json:"greeting"`
	}
	h, err := client.Call[hello](ctx, c, "/v1/hello", "Ann")
	fmt.Println(h.Greeting, err)

	_, err = c.Call(ctx, "/v1/hello", 5)
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Message)
	}
	// Output:
	// Hello, Ann <nil>
	// -32808 parameter 1 "name": expected a string, got an integer
}
