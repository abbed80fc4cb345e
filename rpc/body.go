package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"iter"
	"unicode/utf8"

	"github.com/authrpc/authrpc/rpc/internal/jsoncheck"
)

// body is a parsed request body.
type body struct {
	raws  []json.RawMessage
	named map[string]json.RawMessage // by-name params of a JSON-RPC request
	// paramsErr is a fault of a JSON-RPC request's params, answered after
	// the permission check.
	paramsErr *Error
	request   bool   // the body is a JSON-RPC request object
	method    string // the method it names; "" for none
	id        json.RawMessage
}

// parseBody reads the positional parameters from a JSON body: an array, any
// other value as the only parameter, nothing as none, or a JSON-RPC 2.0
// request object.
func parseBody(b []byte) (body, *Error) { return parseBodyInto(b, nil, nil) }

// parseBodyInto is parseBody appending the parameters of an array to raws,
// whose room the caller may hold ready, and decoding those it can into pre
// (when not nil) in the same pass.
func parseBodyInto(b []byte, raws []json.RawMessage, pre *predecoded) (body, *Error) {
	var in body
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return in, nil
	}
	if !utf8.Valid(b) {
		// JSON is UTF-8 (RFC 8259); decoding would quietly turn bad bytes
		// into U+FFFD and store a value the client never sent.
		return in, NewError(CodeParseError, "request body is not valid UTF-8")
	}
	switch b[0] {
	case '[':
		// One pass checks the array and splits it, the common case; only
		// what it refuses is looked at again, for the answer's wording.
		if raws, ok := splitValid(b, raws, pre); ok {
			in.raws = raws
			in.boundParams()
			return in, nil
		}
		if pre != nil {
			pre.done = 0 // what is decoded again below is taken from there
		}
		if !json.Valid(b) {
			var v any
			return in, parseError(json.Unmarshal(b, &v))
		}
		in.raws = splitArray(b)
		in.boundParams()
		return in, nil
	case '{':
		if bytes.Contains(b, []byte(`"jsonrpc"`)) {
			var env struct {
				JSONRPC string          `json:"jsonrpc"`
				Method  *string         `json:"method"`
				Params  json.RawMessage `json:"params"`
				ID      json.RawMessage `json:"id"`
			}
			if err := json.Unmarshal(b, &env); err != nil {
				return in, parseError(err)
			}
			if env.JSONRPC == "2.0" && (env.Method != nil || env.Params != nil) {
				var method string
				if env.Method != nil {
					method = *env.Method
				}
				return parseRequestObject(method, env.Params, env.ID)
			}
		}
	}
	if !json.Valid(b) {
		var v any
		return in, parseError(json.Unmarshal(b, &v))
	}
	in.raws = []json.RawMessage{b}
	return in, nil
}

// splitValid appends the elements of b, a JSON array with nothing after
// it, to raws as slices of b, and reports whether b is well-formed JSON:
// json.Valid and splitArray in one pass. Strings are checked for their
// syntax alone (the body was checked to be UTF-8). It refuses nesting
// deeper than the scanner reads; the caller then asks encoding/json.
//
// An element that pre's method decodes with a compiled check is decoded
// in the same pass (see predecoded).
func splitValid(b []byte, raws []json.RawMessage, pre *predecoded) ([]json.RawMessage, bool) {
	s := jsoncheck.NewScanner(b)
	if s.Peek() != '[' {
		return raws, false
	}
	s.Advance()
	if s.Peek() == ']' {
		s.Advance()
		s.Space()
		return raws, s.AtEnd()
	}
	for {
		s.Space()
		start := s.Offset()
		if !pre.decode(&s, len(raws)) && !s.SkipValue(2) { // the array is 1 deep: an element's nesting counts from 2
			return raws, false
		}
		raws = appendParam(raws, b[start:s.Offset()])
		switch s.Peek() {
		case ',':
			s.Advance()
		case ']':
			s.Advance()
			s.Space()
			return raws, s.AtEnd()
		default:
			return raws, false
		}
	}
}

// maxParams bounds the parameters a method takes, and so what a body is
// split into: one more than it is kept, to refuse the call, and the rest
// is only read over.
const maxParams = 64

// appendParam appends raw to raws, keeping at most maxParams+1.
func appendParam(raws []json.RawMessage, raw json.RawMessage) []json.RawMessage {
	if len(raws) > maxParams {
		return raws
	}
	return append(raws, raw)
}

// boundParams refuses, after the permission check, a body that held more
// parameters than any method takes.
func (in *body) boundParams() {
	if len(in.raws) > maxParams && in.paramsErr == nil {
		in.paramsErr = InvalidParams("too many parameters: a method takes at most %d", maxParams)
	}
}

// splitArray returns the elements of a well-formed JSON array, as slices
// of b: what json.Unmarshal into []json.RawMessage gives, without decoding
// each element twice, and at most maxParams+1 of them.
func splitArray(b []byte) []json.RawMessage {
	var raws []json.RawMessage
	for item := range items(b) {
		raws = appendParam(raws, item)
		if len(raws) > maxParams {
			break
		}
	}
	return raws
}

// items yields the elements of a well-formed JSON array, or the members
// ("key":value) of an object, as slices of b.
func items(b []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		depth, inString, start := 0, false, -1
		for i := 0; i < len(b); i++ {
			c := b[i]
			if inString {
				switch c {
				case '\\':
					i++ // the escaped byte cannot end the string
				case '"':
					inString = false
				}
				continue
			}
			switch c {
			case ' ', '\t', '\r', '\n':
				continue
			case '"':
				inString = true
			case '[', '{':
				depth++
				if depth == 1 {
					continue // the array itself
				}
			case ']', '}':
				depth--
				if depth == 0 {
					if start >= 0 {
						yield(bytes.TrimRight(b[start:i], " \t\r\n"))
					}
					return
				}
			case ',':
				if depth == 1 {
					if !yield(bytes.TrimRight(b[start:i], " \t\r\n")) {
						return
					}
					start = -1
					continue
				}
			}
			if start < 0 && depth >= 1 {
				start = i
			}
		}
	}
}

func parseRequestObject(method string, params, id json.RawMessage) (body, *Error) {
	in := body{request: true, method: method}
	if !validID(id) {
		// Not echoed: an id is a string, a number or null (JSON-RPC 2.0 §4).
		return in, BadRequest("the id of a JSON-RPC request is a string, a number or null")
	}
	in.id = id
	if in.method != "" && in.method[0] != '/' {
		in.method = "/" + in.method
	}
	params = bytes.TrimSpace(params)
	if len(params) == 0 || string(params) == "null" {
		return in, nil
	}
	switch params[0] {
	case '[':
		in.raws = splitArray(params) // well formed: the request was decoded
		in.boundParams()
	case '{':
		members := 0
		for range items(params) {
			if members++; members > maxParams {
				in.paramsErr = InvalidParams("too many parameters: a method takes at most %d", maxParams)
				return in, nil
			}
		}
		if err := json.Unmarshal(params, &in.named); err != nil {
			return in, parseError(err)
		}
	default:
		// Refused once the method's permissions were checked, like any other
		// fault of the parameters.
		in.paramsErr = InvalidParams("params of a JSON-RPC request must be an array or an object")
	}
	return in, nil
}

// validID reports whether a request object's id, already valid JSON, is
// absent, a string, a number or null.
func validID(id json.RawMessage) bool {
	id = bytes.TrimSpace(id)
	if len(id) == 0 || string(id) == "null" {
		return true
	}
	c := id[0]
	return c == '"' || c == '-' || c >= '0' && c <= '9'
}

func parseError(err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return Errorf(CodeParseError, "request body is not valid JSON (at byte %d)", se.Offset)
	}
	return NewError(CodeParseError, "")
}

// positional orders by-name parameters by the method's parameter names.
func (m *method) positional(named map[string]json.RawMessage) ([]json.RawMessage, error) {
	raws := make([]json.RawMessage, len(m.params))
	n := 0
	for i, p := range m.params {
		if v, ok := named[p.Name]; ok {
			raws[i] = v
			n++
		}
	}
	if n != len(named) {
		for name := range named {
			if !m.hasParam(name) {
				return nil, InvalidParams("unknown parameter %q", name)
			}
		}
	}
	for len(raws) > 0 && raws[len(raws)-1] == nil {
		raws = raws[:len(raws)-1]
	}
	return raws, nil
}

func (m *method) hasParam(name string) bool {
	for _, p := range m.params {
		if p.Name == name {
			return true
		}
	}
	return false
}

// frameBody reads a frame's method and params: an array of positional
// parameters, any other value as the only one, nothing as none.
func frameBody(method string, params, id json.RawMessage) (body, *Error) {
	in, e := parseRequestObject(method, nil, id)
	if e != nil {
		return in, e
	}
	params = bytes.TrimSpace(params)
	switch {
	case len(params) == 0 || string(params) == "null":
	case params[0] == '[':
		in.raws = splitArray(params) // well formed: the frame was decoded
		in.boundParams()
	default:
		in.raws = []json.RawMessage{params}
	}
	return in, nil
}
