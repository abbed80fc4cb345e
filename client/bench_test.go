package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/authrpc/authrpc/client"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// BenchmarkCall calls one trivial method of a registry on a real socket,
// one call at a time: "raw-http" by hand with net/http and encoding/json
// (the baseline), then the client over HTTP and WebSocket, in JSON and
// MessagePack. The difference from raw-http is what the client (and, for
// the other transports and encodings, the server's) costs per call.
func BenchmarkCall(b *testing.B) {
	s := newServer(b)
	ctx := context.Background()
	srv := rpctest.Serve(b, s.reg, "")

	b.Run("raw-http", func(b *testing.B) {
		hc := &http.Client{}
		body := []byte(`["hello"]`)
		b.ReportAllocs()
		for b.Loop() {
			res, err := hc.Post(srv.URL+"/v1/echo", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			var env struct {
				Result struct {
					Data string `json:"data"`
				} `json:"result"`
			}
			err = json.NewDecoder(res.Body).Decode(&env)
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if err != nil || env.Result.Data != "hello" {
				b.Fatalf("%v %+v", err, env)
			}
		}
	})
	for _, enc := range []client.Encoding{client.JSON, client.MessagePack} {
		for _, tr := range []string{"http", "ws"} {
			b.Run(tr+"-"+enc.String(), func(b *testing.B) {
				var c *client.Client
				if tr == "http" {
					c = srv.HTTP(client.Options{Encoding: enc})
				} else {
					c = srv.WebSocket(client.Options{Encoding: enc})
				}
				b.ReportAllocs()
				for b.Loop() {
					got, err := client.Call[string](ctx, c, "/v1/echo", "hello")
					if err != nil || got != "hello" {
						b.Fatal(got, err)
					}
				}
			})
		}
	}
}
