package compare

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxBody bounds a request body in every implementation (each one's
// default is 1 MiB too).
const maxBody = 1 << 20

var skuPattern = regexp.MustCompile(`^[A-Z]+-[0-9]+$`)

// HandWritten serves /v1/greet and /v1/order as a careful net/http handler
// of those two methods would, with no framework: it looks the bearer token
// up by its digest, takes a JSON body of at most 1 MiB holding an array of
// exactly one object, refuses unknown properties, checks every rule of the
// parameters by hand, and answers the result in the JSON-RPC envelope.
func HandWritten(tokens Tokens) http.Handler {
	mux := http.NewServeMux()
	// A missing required property is refused by the rules themselves: each
	// one's zero value breaks a rule (an empty name, no items, qty 0) except
	// count's, so count starts out of range at -1.
	mux.Handle("POST /v1/greet", handMethod(tokens, GreetParams{Count: -1}, CheckGreet, Greet))
	mux.Handle("POST /v1/order", handMethod(tokens, OrderParams{}, CheckOrder, Total))
	return mux
}

// CheckGreet is greet's rules written by hand.
func CheckGreet(p *GreetParams) bool {
	return runesIn(p.Name, 1, 64) && p.Count >= 0 && p.Count <= 1000
}

// CheckOrder is order's rules written by hand.
func CheckOrder(p *OrderParams) bool {
	if !runesIn(p.Customer.Name, 1, 64) || !runesIn(p.Customer.Email, 3, 254) ||
		len(p.Items) < 1 || len(p.Items) > 50 || !runesIn(p.Note, 0, 200) {
		return false
	}
	for _, it := range p.Items {
		if !skuPattern.MatchString(it.SKU) || it.Qty < 1 || it.Qty > 100 {
			return false
		}
	}
	return true
}

// runesIn reports whether s has lo..hi characters, as JSON Schema counts
// them (code points).
func runesIn(s string, lo, hi int) bool {
	n := utf8.RuneCountInString(s)
	return n >= lo && n <= hi
}

// handMethod is one method: authenticate, decode into a copy of preset,
// check, answer.
func handMethod[P, R any](tokens Tokens, preset P, check func(*P) bool, answer func(*P) R) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if tokens.Lookup(bearer(r.Header.Get("Authorization"))) == nil {
			handError(w, http.StatusUnauthorized, 401, "Not authenticated")
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" &&
			!strings.HasPrefix(ct, "application/json;") {
			handError(w, http.StatusUnsupportedMediaType, -32803, "Unsupported content type")
			return
		}
		p := preset
		if err := decodeOne(http.MaxBytesReader(w, r.Body, maxBody), &p); err != nil || !check(&p) {
			handError(w, http.StatusBadRequest, -32808, "Invalid parameters")
			return
		}
		out, err := json.Marshal(envelope[R]{"2.0", result[R]{200, "OK", false, answer(&p), struct{}{}}})
		if err != nil {
			handError(w, http.StatusInternalServerError, 500, "Internal error")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}
}

// decodeOne decodes a body that is a JSON array of exactly one value into
// p, refusing unknown properties and anything after the array.
func decodeOne[P any](body io.Reader, p *P) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return errors.New("body is not an array")
	}
	if err := dec.Decode(p); err != nil {
		return err
	}
	if t, err := dec.Token(); err != nil || t != json.Delim(']') {
		return errors.New("not exactly one parameter")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the array")
	}
	return nil
}

type (
	envelope[R any] struct {
		JSONRPC string    `json:"jsonrpc"`
		Result  result[R] `json:"result"`
	}
	result[R any] struct {
		Status     int      `json:"status"`
		StatusText string   `json:"status_text"`
		Exception  bool     `json:"exception"`
		Data       R        `json:"data"`
		Meta       struct{} `json:"meta"`
	}
)

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// handError answers a refusal in the JSON-RPC error shape.
func handError(w http.ResponseWriter, status, code int, message string) {
	out, _ := json.Marshal(struct {
		JSONRPC string   `json:"jsonrpc"`
		Error   rpcError `json:"error"`
	}{"2.0", rpcError{code, message}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}
