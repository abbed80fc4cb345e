package client

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Result is a successful answer.
type Result struct {
	// Status is 200, or 204 for "OK, nothing changed".
	Status     int
	StatusText string
	// Data is the result's data as JSON text, also when the answer came in
	// MessagePack; nil when the method answered none.
	Data json.RawMessage
	// Meta carries the answer's extras, such as {"total": N} for read
	// methods; never nil.
	Meta map[string]any
}

// Decode unmarshals the data into v as encoding/json does (json tags, ids
// sent as strings), whichever encoding the answer came in. It fails with
// ErrNoData when the answer has no data.
func (r *Result) Decode(v any) error {
	if len(r.Data) == 0 {
		return ErrNoData
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		return fmt.Errorf("client: decode the data into %T: %w", v, err)
	}
	return nil
}

// ErrNoData is returned by Decode for an answer without data.
var ErrNoData = errors.New("client: the answer has no data")

// Error is an error answer of the server: a method's refusal (400, 404,
// -32808 and so on) or an internal error (500, Exception set). Branch on it
// with errors.As.
type Error struct {
	Method    string // the method called
	Code      int    // error.code: an HTTP status or a JSON-RPC code
	Message   string
	Exception bool           // an internal error of the server
	Meta      map[string]any // error.data.meta; never nil
}

func (e *Error) Error() string {
	return fmt.Sprintf("client: %s: %d %s", e.Method, e.Code, e.Message)
}

// Code returns the code of the *Error in err's chain, or 0 when there is
// none (err is nil, or failed before the server answered).
func Code(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// message is a JSON-RPC message as either side sends it: a request or
// event (Method), or an answer (Result or Error) to the request of ID.
type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   json.RawMessage `json:"error,omitempty"`
}

// answer turns the result or error of m into what Call returns.
func (m *message) answer(method string) (*Result, error) {
	if m.JSONRPC != "2.0" {
		return nil, fmt.Errorf("client: %s: the answer is not JSON-RPC 2.0", method)
	}
	switch {
	case len(m.Error) > 0 && string(m.Error) != "null":
		var e struct {
			Code    *int   `json:"code"`
			Message string `json:"message"`
			Data    struct {
				Exception bool           `json:"exception"`
				Meta      map[string]any `json:"meta"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Error, &e); err != nil || e.Code == nil {
			return nil, fmt.Errorf("client: %s: malformed error in the answer: %s", method, quote(m.Error))
		}
		if e.Data.Meta == nil {
			e.Data.Meta = map[string]any{}
		}
		return nil, &Error{Method: method, Code: *e.Code, Message: e.Message, Exception: e.Data.Exception, Meta: e.Data.Meta}
	case len(m.Result) > 0:
		var r struct {
			Status     int             `json:"status"`
			StatusText string          `json:"status_text"`
			Data       json.RawMessage `json:"data"`
			Meta       map[string]any  `json:"meta"`
		}
		if err := json.Unmarshal(m.Result, &r); err != nil {
			return nil, fmt.Errorf("client: %s: malformed result in the answer: %s", method, quote(m.Result))
		}
		if string(r.Data) == "null" {
			r.Data = nil
		}
		if r.Meta == nil {
			r.Meta = map[string]any{}
		}
		return &Result{Status: r.Status, StatusText: r.StatusText, Data: r.Data, Meta: r.Meta}, nil
	}
	return nil, fmt.Errorf("client: %s: the answer holds neither a result nor an error", method)
}

// quote cuts b short for an error message.
func quote(b []byte) string {
	const most = 200
	if len(b) > most {
		return fmt.Sprintf("%q…", b[:most])
	}
	return fmt.Sprintf("%q", b)
}
