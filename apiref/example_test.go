package apiref_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/authrpc/authrpc/apiref"
	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

func Example() {
	reg := rpc.New(rpc.Options{Prefix: "/api"})
	reg.Register(rpc.Method{
		ID: "/v1/hello", Title: "Say hello", Permissions: []string{auth.Anyone},
		Params:  []rpc.Param{{Name: "name"}},
		Handler: func(ctx context.Context, name string) (string, error) { return "Hello, " + name, nil },
	})
	mux := http.NewServeMux()
	mux.Handle("/api/", reg)
	mux.Handle("GET /api/openapi.json", reg.OpenAPIHandler())
	mux.Handle("GET /docs/", apiref.New(apiref.Options{OpenAPI: "/api/openapi.json", Title: "Greeter API"}))

	srv := httptest.NewServer(mux)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/docs/")
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"))
	res, err = http.Get(srv.URL + "/api/openapi.json")
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"))
	fmt.Println(strings.Contains(apiref.ContentSecurityPolicy, "unsafe"))
	// Output:
	// 200 text/html; charset=utf-8
	// 200 application/json
	// false
}
