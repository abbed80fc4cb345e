package compare

import (
	"crypto/sha256"
	"fmt"

	"github.com/authrpc/authrpc/auth"
)

// GreetParams and OrderParams are the methods' parameters. Each field
// carries its rules twice, once for each framework's reflection: authrpc
// reads the jsonschema tag, Huma the tags named after the keywords. Every
// field without omitempty is required, and unknown properties are refused.
type (
	GreetParams struct {
		Name  string `json:"name" jsonschema:"minLength=1,maxLength=64" minLength:"1" maxLength:"64"`
		Count int    `json:"count" jsonschema:"minimum=0,maximum=1000" minimum:"0" maximum:"1000"`
	}
	OrderItem struct {
		SKU string `json:"sku" jsonschema:"pattern=^[A-Z]+-[0-9]+$" pattern:"^[A-Z]+-[0-9]+$"`
		Qty int    `json:"qty" jsonschema:"minimum=1,maximum=100" minimum:"1" maximum:"100"`
	}
	OrderCustomer struct {
		Name  string `json:"name" jsonschema:"minLength=1,maxLength=64" minLength:"1" maxLength:"64"`
		Email string `json:"email" jsonschema:"minLength=3,maxLength=254" minLength:"3" maxLength:"254"`
	}
	OrderParams struct {
		Customer OrderCustomer `json:"customer"`
		Items    []OrderItem   `json:"items" jsonschema:"minItems=1,maxItems=50" minItems:"1" maxItems:"50"`
		Note     string        `json:"note,omitempty" jsonschema:"maxLength=200" maxLength:"200"`
	}
)

// Greeting and OrderTotal are the methods' answers.
type (
	Greeting struct {
		Greeting string `json:"greeting"`
		Count    int    `json:"count"`
	}
	OrderTotal struct {
		Lines    int `json:"lines"`
		Quantity int `json:"quantity"`
	}
)

// Greet is the greet method's work, the same in every implementation.
func Greet(p *GreetParams) Greeting { return Greeting{"Hello, " + p.Name, p.Count} }

// Total is the order method's work, the same in every implementation.
func Total(p *OrderParams) OrderTotal {
	t := OrderTotal{Lines: len(p.Items)}
	for _, it := range p.Items {
		t.Quantity += it.Qty
	}
	return t
}

// Tokens maps the SHA-256 digest of each bearer token to its caller, as a
// service that stores only digests keeps them.
type Tokens map[[sha256.Size]byte]*auth.Principal

// NewTokens mints one session token for a signed-in user and returns it
// with the map that knows it.
func NewTokens() (Tokens, string, error) {
	token, _, err := auth.NewToken(auth.KindSession)
	if err != nil {
		return nil, "", fmt.Errorf("compare: mint token: %w", err)
	}
	user := &auth.Principal{UserID: 2, Username: "bench", Kind: auth.KindSession, TokenID: 1}
	return Tokens{sha256.Sum256([]byte(token)): user}, token, nil
}

// Lookup returns the caller of token, or nil when the token is unknown.
func (t Tokens) Lookup(token string) *auth.Principal { return t[sha256.Sum256([]byte(token))] }

// bearer returns the token of an Authorization header value, or "".
func bearer(header string) string {
	const prefix = "Bearer "
	if len(header) <= len(prefix) || header[:len(prefix)] != prefix {
		return ""
	}
	return header[len(prefix):]
}
