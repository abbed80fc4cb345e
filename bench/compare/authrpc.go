package compare

import (
	"context"
	"io"
	"log/slog"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// AuthRPC serves /v1/greet and /v1/order with an authrpc registry: a
// session authenticator looks the bearer token up by its digest, the
// methods are open to any signed-in user, and the registry checks the
// parameter against the schema it reflects from the struct. Nothing is
// logged and no call log is kept.
func AuthRPC(tokens Tokens) *rpc.Registry {
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	reg.Auth().Handle(auth.KindSession, auth.AuthenticatorFunc(func(ctx context.Context, token string) (*auth.Principal, error) {
		if p := tokens.Lookup(token); p != nil {
			return p, nil
		}
		return nil, auth.ErrUnknownToken
	}))
	reg.Register(rpc.Method{
		ID: "/v1/greet", Title: "Greet", Permissions: []string{auth.User},
		Params: []rpc.Param{{Name: "params"}},
		Handler: func(ctx context.Context, p GreetParams) (Greeting, error) {
			return Greet(&p), nil
		},
	})
	reg.Register(rpc.Method{
		ID: "/v1/order", Title: "Order", Permissions: []string{auth.User},
		Params: []rpc.Param{{Name: "order"}},
		Handler: func(ctx context.Context, p OrderParams) (OrderTotal, error) {
			return Total(&p), nil
		},
	})
	return reg
}
