package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/read"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// fuzzRegistry has methods whose parameters cover the schema shapes the
// validator meets: simple types, optional tails, structs with constraints,
// maps and free-form values.
func fuzzRegistry(configure ...func(*rpc.Options)) *rpc.Registry {
	opts := rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, fn := range configure {
		fn(&opts)
	}
	reg := rpc.New(opts)
	type fields struct {
		Username string          `json:"username" jsonschema:"minLength=3,maxLength=32"`
		Port     int             `json:"port,omitempty" jsonschema:"minimum=0,maximum=65535"`
		Perms    map[string]bool `json:"permissions,omitempty"`
		Tags     []string        `json:"tags,omitempty"`
		Kind     string          `json:"kind,omitempty" jsonschema:"enum=a,enum=b"`
	}
	reg.Register(rpc.Method{
		ID: "/v1/f/simple", Title: "Simple", Permissions: []string{auth.Anyone},
		Params: []rpc.Param{{Name: "name"}, {Name: "enabled"}, {Name: "count?"}},
		Handler: func(ctx context.Context, name string, enabled bool, count int64) (any, error) {
			return []any{name, enabled, count}, nil
		},
	})
	reg.Register(rpc.Method{
		ID: "/v1/f/struct", Title: "Struct", Permissions: []string{auth.Anyone},
		Params: []rpc.Param{{Name: "fields"}, {Name: "extra?"}},
		Handler: func(ctx context.Context, f fields, extra any) (any, error) {
			return f, nil
		},
	})
	return reg
}

// FuzzRequest sends arbitrary bodies through the whole handler: whatever
// arrives, the answer is a well-formed envelope and never a 5xx.
func FuzzRequest(f *testing.F) {
	seeds := []string{
		``, `[]`, `["a", true]`, `["a", true, 5]`, `"a"`, `null`, `[null, null]`,
		`[{"username":"bob","port":80,"permissions":{"x":true},"tags":["a"],"kind":"a"}]`,
		`{"username":"bob"}`, `[{"username":"bo"}]`, `[{"username":"bob","port":-1}]`,
		`{"jsonrpc":"2.0","method":"/v1/f/simple","params":["a",false],"id":1}`,
		`{"jsonrpc":"2.0","method":"/v1/f/struct","params":{"fields":{"username":"abc"}},"id":"x"}`,
		`{"jsonrpc":"2.0","method":"v1/f/simple","params":7}`,
		`[1e999]`, `["\u0000", true]`, `[[[[[[[[[[]]]]]]]]]]`, `{"a":`, `["a",true,9223372036854775808]`,
	}
	for _, s := range seeds {
		f.Add("/v1/f/simple", s)
		f.Add("/v1/f/struct", s)
	}
	f.Add("/", `{"jsonrpc":"2.0","method":"/v1/f/simple","params":["a",true]}`)
	c := rpctest.New(fuzzRegistry())
	f.Fuzz(func(t *testing.T, path, body string) {
		req, err := http.NewRequest(http.MethodPost, "http://x"+"/", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Skip()
		}
		req.URL.Path = path
		req.Header.Set("Content-Type", "application/json")
		// Do fails unless the answer is a well-formed envelope: exactly one
		// of result and error, an error with a message, and so on.
		a := c.Do(t, req)
		if a.HTTP >= 500 {
			t.Fatalf("%s %q: HTTP %d: %s", path, body, a.HTTP, a.Raw)
		}
		if a.Err() && a.Message == "" {
			t.Fatalf("%s %q: an error without a message: %s", path, body, a.Raw)
		}
	})
}

// FuzzParams sends one value as the only parameter of methods whose schemas
// differ: a well-formed value is either accepted or refused with -32808
// naming the parameter; a malformed one is -32807. Nothing else may happen.
func FuzzParams(f *testing.F) {
	for _, s := range []string{
		`"x"`, `1`, `-1.5e3`, `true`, `null`, `{}`, `[]`, `{"username":"bob"}`,
		`{"username":"bob","port":65536}`, `{"username":"bo","kind":"c"}`, `{"a":true,"b":false}`,
		`{"where":{"id":"1"},"order_by":[["name","desc"]],"limit":5}`, `{"where":{"name":["like","%_\\"]}}`,
		`{"where":{"id":["in",["1","2"]]}}`, `"\ud800"`, `{"username":"\u0000"}`, `[[[[]]]]`, `{"a":`,
	} {
		f.Add(s)
	}
	reg := fuzzRegistry()
	reg.Register(rpc.Method{
		ID: "/v1/f/perms", Title: "Perms", Permissions: []string{auth.Anyone},
		Params:  []rpc.Param{{Name: "permissions"}},
		Handler: func(ctx context.Context, p map[string]bool) (int, error) { return len(p), nil },
	})
	reg.Register(rpc.Method{
		ID: "/v1/f/read", Title: "Read", Permissions: []string{auth.Anyone},
		Params: []rpc.Param{{Name: "options?", Read: &read.Spec{Fields: []read.Field{
			{Name: "id", Type: read.ID, Conditions: []string{"=", "in"}, Sortable: true},
			{Name: "name", Conditions: []string{"=", "like"}, Sortable: true},
		}}}},
		Handler: func(ctx context.Context, o read.Options) (int, error) { return o.Limit, nil },
	})
	methods := []string{"/v1/f/simple", "/v1/f/struct", "/v1/f/perms", "/v1/f/read"}
	c := rpctest.New(reg)
	f.Fuzz(func(t *testing.T, value string) {
		body := "[" + value + "]"
		wellFormed := json.Valid([]byte(body)) && utf8.ValidString(body)
		for _, m := range methods {
			a := c.Post(t, m, body)
			switch {
			case !wellFormed:
				if !a.Err() || a.Code != rpc.CodeParseError {
					t.Fatalf("%s %s: malformed, want -32807: %s", m, body, a.Raw)
				}
			case !a.Err():
			case a.Code == rpc.CodeInvalidParams:
				// A value like `1,2` makes two parameters: too many is a fine answer.
				named := strings.Contains(a.Message, `parameter 1 "`) ||
					strings.HasPrefix(a.Message, "too many parameters")
				if m != "/v1/f/simple" && !named {
					t.Fatalf("%s %s: -32808 must name the parameter: %s", m, body, a.Message)
				}
			default:
				t.Fatalf("%s %s: want success or -32808, got %s", m, body, a.Raw)
			}
		}
	})
}
