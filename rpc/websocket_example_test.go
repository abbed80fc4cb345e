package rpc_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// A call over a WebSocket, then an event pushed to every socket.
func ExampleRegistry_Publish() {
	reg := rpc.New(rpc.Options{})
	reg.Register(rpc.Method{
		ID: "/v1/hello", Title: "Say hello", Permissions: []string{auth.Anyone},
		Params:  []rpc.Param{{Name: "name"}},
		Handler: func(ctx context.Context, name string) (string, error) { return "Hello, " + name, nil },
	})
	srv := httptest.NewServer(reg)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/",
		&websocket.DialOptions{Subprotocols: []string{rpc.Subprotocol}}) // a guest: no token offered
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.CloseNow()

	_ = conn.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","method":"/v1/hello","params":["world"],"id":1}`))
	_, reply, _ := conn.Read(ctx)
	fmt.Println(string(reply))

	_ = reg.Publish(ctx, "news", []string{rpc.GroupAll}, "it works")
	_, event, _ := conn.Read(ctx)
	fmt.Println(string(event))
	// Output:
	// {"jsonrpc":"2.0","id":1,"result":{"status":200,"status_text":"OK","exception":false,"data":"Hello, world","meta":{}}}
	// {"jsonrpc":"2.0","method":"/event","params":["news","it works"]}
}
