package console_test

import (
	"net/http"

	"github.com/authrpc/authrpc/console"
	"github.com/authrpc/authrpc/rpc"
)

// The console under /admin/ beside the registry under /api/, on one origin.
func Example() {
	reg := rpc.New(rpc.Options{Prefix: "/api"})
	mux := http.NewServeMux()
	mux.Handle("/api/", reg)
	mux.Handle("/admin/", console.New(console.Options{API: "/api/"}))
	_ = http.ListenAndServe("127.0.0.1:8080", mux)
}
