package rpc_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// post POSTs body to url, as the bearer of token ("" for none), and prints
// the HTTP status and the answer.
func post(url, token, body string) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	fmt.Println(res.StatusCode, strings.TrimSpace(string(out)))
}

// invoiceOrder is the parameter of /v1/orders/total: its schema, and the
// checks every call passes before the handler runs, come from the struct
// tags.
type invoiceOrder struct {
	Item     string  `json:"item" jsonschema:"minLength=1"`
	Quantity int     `json:"quantity" jsonschema:"minimum=1,maximum=100"`
	Price    float64 `json:"price" jsonschema:"minimum=0"`
}

// invoiceTotal is the answer's data; the OpenAPI document reflects its
// schema too.
type invoiceTotal struct {
	Item  string  `json:"item"`
	Total float64 `json:"total"`
}

// A typed method, called through the registry's http.Handler (mounted on
// a test server) with the positional array of its parameters. A call whose parameters do not fit
// the schema never reaches the handler; an *rpc.Error the handler returns
// is answered with its code.
func Example() {
	reg := rpc.New(rpc.Options{})
	reg.Register(rpc.Method{
		ID:          "/v1/orders/total",
		Title:       "Total of an order",
		Permissions: []string{auth.Anyone},
		Params:      []rpc.Param{{Name: "order"}},
		Handler: func(ctx context.Context, o invoiceOrder) (invoiceTotal, error) {
			if o.Item == "unobtainium" {
				return invoiceTotal{}, rpc.Errorf(rpc.CodeNotFound, "no such item: %s", o.Item)
			}
			return invoiceTotal{o.Item, float64(o.Quantity) * o.Price}, nil
		},
	})

	srv := httptest.NewServer(reg)
	defer srv.Close()

	post(srv.URL+"/v1/orders/total", "", `[{"item":"tea","quantity":3,"price":2.5}]`)
	post(srv.URL+"/v1/orders/total", "", `[{"item":"tea","quantity":0,"price":2.5}]`)
	post(srv.URL+"/v1/orders/total", "", `[{"item":"unobtainium","quantity":1,"price":1}]`)
	// Output:
	// 200 {"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"data":{"item":"tea","total":7.5},"meta":{}}}
	// 400 {"jsonrpc":"2.0","error":{"code":-32808,"message":"parameter 1 \"order\": at /quantity: must be at least 1, got 0","data":{"exception":false,"meta":{}}}}
	// 404 {"jsonrpc":"2.0","error":{"code":404,"message":"no such item: unobtainium","data":{"exception":false,"meta":{}}}}
}

// Permissions: a method lists the tags a caller must pass, any of them. A
// host declares its own (here "billing") beside the built-in auth.Anyone,
// auth.Guest, auth.User and auth.Root, and an authenticator on the
// registry's auth.Mux says who holds what.
func ExampleMethod_permissions() {
	perms := auth.NewPermissions(auth.Permission{Name: "billing", Title: "Billing"})
	reg := rpc.New(rpc.Options{Permissions: perms})
	reg.Auth().HandlePrefix("host", "host-", auth.AuthenticatorFunc(
		func(ctx context.Context, token string) (*auth.Principal, error) {
			switch token {
			case "host-ann":
				return &auth.Principal{UserID: 2, Username: "ann", Permissions: map[string]bool{"billing": true}}, nil
			case "host-bob":
				return &auth.Principal{UserID: 3, Username: "bob"}, nil
			}
			return nil, auth.ErrUnknownToken
		}))
	reg.Register(rpc.Method{
		ID: "/v1/invoices/count", Title: "Count invoices", Permissions: []string{"billing"},
		Handler: func(ctx context.Context) (int, error) { return 42, nil },
	})

	srv := httptest.NewServer(reg)
	defer srv.Close()

	post(srv.URL+"/v1/invoices/count", "host-ann", `[]`)
	post(srv.URL+"/v1/invoices/count", "host-bob", `[]`)
	post(srv.URL+"/v1/invoices/count", "", `[]`)
	// Output:
	// 200 {"jsonrpc":"2.0","result":{"status":200,"status_text":"OK","exception":false,"data":42,"meta":{}}}
	// 401 {"jsonrpc":"2.0","error":{"code":-32801,"message":"Insufficient permissions","data":{"exception":false,"meta":{}}}}
	// 401 {"jsonrpc":"2.0","error":{"code":-32801,"message":"Insufficient permissions","data":{"exception":false,"meta":{}}}}
}

// A Section groups methods under a prefix and a title: relative ids join
// the prefix, and the reference lists the section's methods under its
// title.
func ExampleRegistry_Section() {
	reg := rpc.New(rpc.Options{})
	notes := reg.Section("/v1/notes", "Notes")
	for _, id := range []string{"read", "create"} {
		notes.Register(rpc.Method{
			ID: id, Title: "Notes: " + id, Permissions: []string{auth.User},
			Handler: func(ctx context.Context) error { return nil },
		})
	}
	for _, m := range reg.Methods() {
		fmt.Println(m.ID, "in", reg.SectionTitle(m.Section))
	}
	// Output:
	// /v1/notes/read in Notes
	// /v1/notes/create in Notes
}

// Events reach the sockets of the groups they are published to: here every
// signed-in caller (rpc.GroupUser), so the guest's socket gets nothing and
// the user's gets the event. rpc.UserGroup(id) reaches one user's sockets,
// and a permission name the sockets of the callers who hold it.
func ExampleRegistry_Publish_groups() {
	reg := rpc.New(rpc.Options{})
	reg.Auth().HandlePrefix("host", "host-", auth.AuthenticatorFunc(
		func(ctx context.Context, token string) (*auth.Principal, error) {
			return &auth.Principal{UserID: 2, Username: "ann"}, nil
		}))
	srv := httptest.NewServer(reg)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// dial opens a socket and pings it, so that it is serving before the
	// event is published.
	dial := func(protocols ...string) *websocket.Conn {
		conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/",
			&websocket.DialOptions{Subprotocols: protocols})
		if err != nil {
			panic(err)
		}
		_ = conn.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","method":"/ping","id":1}`))
		_, _, _ = conn.Read(ctx)
		return conn
	}
	guest := dial(rpc.Subprotocol)
	defer guest.CloseNow()
	ann := dial(rpc.Subprotocol, "host-ann") // the bearer token is offered second
	defer ann.CloseNow()

	_ = reg.Publish(ctx, "invoice/paid", []string{rpc.GroupUser}, map[string]any{"id": "7"})
	_, event, _ := ann.Read(ctx)
	fmt.Println("ann:", string(event))

	short, stop := context.WithTimeout(ctx, 100*time.Millisecond)
	defer stop()
	_, _, err := guest.Read(short)
	fmt.Println("guest got nothing:", err != nil)
	// Output:
	// ann: {"jsonrpc":"2.0","method":"/event","params":["invoice/paid",{"id":"7"}]}
	// guest got nothing: true
}
