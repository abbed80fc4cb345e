package rpc_test

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/benchkit"
	"github.com/authrpc/authrpc/rpc"
)

// Parameters and answers of the struct methods the benchmarks call.
type (
	greetParams struct {
		Name  string `json:"name" jsonschema:"minLength=1,maxLength=64"`
		Count int    `json:"count" jsonschema:"minimum=0,maximum=1000"`
	}
	greeting struct {
		Greeting string `json:"greeting"`
		Count    int    `json:"count"`
	}
	orderItem struct {
		SKU string `json:"sku" jsonschema:"pattern=^[A-Z]+-[0-9]+$"`
		Qty int    `json:"qty" jsonschema:"minimum=1,maximum=100"`
	}
	orderCustomer struct {
		Name  string `json:"name" jsonschema:"minLength=1,maxLength=64"`
		Email string `json:"email" jsonschema:"minLength=3,maxLength=254"`
	}
	orderParams struct {
		Customer orderCustomer `json:"customer"`
		Items    []orderItem   `json:"items" jsonschema:"minItems=1,maxItems=50"`
		Note     string        `json:"note,omitempty" jsonschema:"maxLength=200"`
	}
	orderTotal struct {
		Lines    int `json:"lines"`
		Quantity int `json:"quantity"`
	}
)

func greet(p greetParams) greeting { return greeting{"Hello, " + p.Name, p.Count} }

func total(p orderParams) orderTotal {
	t := orderTotal{Lines: len(p.Items)}
	for _, it := range p.Items {
		t.Quantity += it.Qty
	}
	return t
}

var skuPattern = regexp.MustCompile(`^[A-Z]+-[0-9]+$`)

// checkGreet and checkOrder are the parameter schemas' rules written by hand.
func checkGreet(p greetParams) bool {
	n := utf8.RuneCountInString(p.Name)
	return n >= 1 && n <= 64 && p.Count >= 0 && p.Count <= 1000
}

func checkOrder(p orderParams) bool {
	if n := utf8.RuneCountInString(p.Customer.Name); n < 1 || n > 64 {
		return false
	}
	if n := utf8.RuneCountInString(p.Customer.Email); n < 3 || n > 254 {
		return false
	}
	if len(p.Items) < 1 || len(p.Items) > 50 || utf8.RuneCountInString(p.Note) > 200 {
		return false
	}
	for _, it := range p.Items {
		if !skuPattern.MatchString(it.SKU) || it.Qty < 1 || it.Qty > 100 {
			return false
		}
	}
	return true
}

// structRegistry serves /v1/greet and /v1/order with their schemas
// reflected from the struct tags, for the bearer of the token it returns.
func structRegistry(b *testing.B) (*rpc.Registry, string) {
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	token, _, err := auth.NewToken(auth.KindSession)
	if err != nil {
		b.Fatal(err)
	}
	user := &auth.Principal{UserID: 2, Username: "bench", Kind: auth.KindSession, TokenID: 1}
	tokens := map[[sha256.Size]byte]*auth.Principal{sha256.Sum256([]byte(token)): user}
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(ctx context.Context, t string) (*auth.Principal, error) {
		if p := tokens[sha256.Sum256([]byte(t))]; p != nil {
			return p, nil
		}
		return nil, auth.ErrUnknownToken
	}))
	reg.Register(rpc.Method{
		ID: "/v1/greet", Title: "Greet", Permissions: []string{auth.User},
		Params:  []rpc.Param{{Name: "params"}},
		Handler: func(ctx context.Context, p greetParams) (greeting, error) { return greet(p), nil },
	})
	reg.Register(rpc.Method{
		ID: "/v1/order", Title: "Order", Permissions: []string{auth.User},
		Params:  []rpc.Param{{Name: "order"}},
		Handler: func(ctx context.Context, p orderParams) (orderTotal, error) { return total(p), nil },
	})
	return reg, token
}

// BenchmarkStructCall compares methods taking a struct, called through the
// registry (token, schema reflected from the tags, envelope), with a
// hand-written handler doing the same checks, serially and in parallel.
// Issue 14's bar: the registry costs at most 1.3x the hand-written handler.
func BenchmarkStructCall(b *testing.B) {
	cases := []struct {
		name, path string
		body       string
		want       string
		hand       func(token string) http.Handler
	}{
		{
			"flat", "/v1/greet", `[{"name":"world","count":3}]`, `"data":{"greeting":"Hello, world","count":3}`,
			func(t string) http.Handler { return benchkit.HandWritten(t, checkGreet, greet) },
		},
		{
			"nested", "/v1/order",
			`[{"customer":{"name":"Ada","email":"ada@example.com"},"items":[{"sku":"AB-12","qty":2},{"sku":"C-7","qty":1},{"sku":"XYZ-300","qty":5}]}]`,
			`"data":{"lines":3,"quantity":8}`,
			func(t string) http.Handler { return benchkit.HandWritten(t, checkOrder, total) },
		},
	}
	for _, c := range cases {
		reg, token := structRegistry(b)
		hand := c.hand(token)
		body := []byte(c.body)
		b.Run(c.name+"/hand", func(b *testing.B) { benchkit.Post(b, hand, c.path, token, body, c.want) })
		b.Run(c.name+"/registry", func(b *testing.B) { benchkit.Post(b, reg, c.path, token, body, c.want) })
		b.Run(c.name+"/hand-parallel", func(b *testing.B) { benchkit.PostParallel(b, hand, c.path, token, body, c.want) })
		b.Run(c.name+"/registry-parallel", func(b *testing.B) { benchkit.PostParallel(b, reg, c.path, token, body, c.want) })
	}
}
