package rpctest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// A test registers a method, calls it with real JSON and checks the answer.
// Every answer has already been checked against the wire format; the test
// checks what the method should have said.
func Example() {
	t := new(testing.T) // in a test: the test's own t

	reg := rpc.New(rpc.Options{})
	reg.Register(rpc.Method{
		ID: "/v1/hello", Title: "Say hello", Permissions: []string{auth.Anyone},
		Params: []rpc.Param{{Name: "name"}},
		Handler: func(ctx context.Context, name string) (string, error) {
			return "Hello, " + name, nil
		},
	})
	c := rpctest.New(reg)

	a := c.Call(t, "/v1/hello", "Ann")
	var greeting string
	a.Decode(t, &greeting)
	fmt.Println(a.Code, greeting)

	a = c.Call(t, "/v1/hello", 5)
	fmt.Println(a.HTTP, a.Code, a.Message)

	a = c.Post(t, "/v1/hello", `["Ann"`)
	fmt.Println(a.HTTP, a.Code, a.Message)
	// Output:
	// 200 Hello, Ann
	// 400 -32808 parameter 1 "name": expected a string, got an integer
	// 400 -32807 request body is not valid JSON (at byte 6)
}
