package compare

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// HumaOptions configures Huma.
type HumaOptions struct {
	// NoSchemaLinks leaves out what huma.DefaultConfig adds to every answer:
	// a "$schema" property in the body and a Link header naming the
	// answer's JSON Schema. Default: false, Huma's default configuration.
	NoSchemaLinks bool
}

type (
	greetInput  struct{ Body GreetParams }
	greetOutput struct{ Body Greeting }
	orderInput  struct{ Body OrderParams }
	orderOutput struct{ Body OrderTotal }
)

// Huma serves /v1/greet and /v1/order with Huma v2 on an http.ServeMux
// (the humago adapter): a middleware looks the bearer token up by its
// digest, and Huma checks the body, an object of the parameters, against
// the schema it reflects from the tags. The answer is the result itself,
// without an envelope.
func Huma(tokens Tokens, o HumaOptions) http.Handler {
	mux := http.NewServeMux()
	config := huma.DefaultConfig("compare", "1.0.0")
	if o.NoSchemaLinks {
		config.CreateHooks = nil
	}
	api := humago.New(mux, config)
	api.UseMiddleware(func(ctx huma.Context, next func(huma.Context)) {
		if tokens.Lookup(bearer(ctx.Header("Authorization"))) == nil {
			_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, "Not authenticated")
			return
		}
		next(ctx)
	})
	huma.Register(api, huma.Operation{OperationID: "greet", Method: http.MethodPost, Path: "/v1/greet"},
		func(ctx context.Context, in *greetInput) (*greetOutput, error) {
			return &greetOutput{Greet(&in.Body)}, nil
		})
	huma.Register(api, huma.Operation{OperationID: "order", Method: http.MethodPost, Path: "/v1/order"},
		func(ctx context.Context, in *orderInput) (*orderOutput, error) {
			return &orderOutput{Total(&in.Body)}, nil
		})
	return mux
}
