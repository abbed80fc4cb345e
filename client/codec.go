package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/vmihailenco/msgpack/v5"
)

// Encoding is how requests and answers are encoded on the wire.
type Encoding int

const (
	// JSON sends application/json bodies over HTTP and text frames over a
	// WebSocket. It is the zero value.
	JSON Encoding = iota
	// MessagePack sends application/msgpack bodies over HTTP and binary
	// frames over a WebSocket.
	MessagePack
)

func (e Encoding) String() string {
	if e == MessagePack {
		return "MessagePack"
	}
	return "JSON"
}

// contentType is the HTTP Content-Type of bodies in e.
func (e Encoding) contentType() string {
	if e == MessagePack {
		return "application/msgpack"
	}
	return "application/json"
}

// encode returns the JSON text js in e. MessagePack is made from the JSON
// text, so that a value has one shape on the wire whatever the encoding:
// struct fields by their json tags, ",string" ids as strings, times as
// RFC 3339 strings.
func (e Encoding) encode(js []byte) ([]byte, error) {
	if e == JSON {
		return js, nil
	}
	return jsonToMsgpack(js)
}

// decode returns the message b, sent in e, as JSON text.
func (e Encoding) decode(b []byte) ([]byte, error) {
	if e == JSON {
		return b, nil
	}
	return msgpackToJSON(b)
}

func jsonToMsgpack(js []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("client: encode MessagePack: %w", err)
	}
	b, err := msgpack.Marshal(fromJSON(v))
	if err != nil {
		return nil, fmt.Errorf("client: encode MessagePack: %w", err)
	}
	return b, nil
}

// fromJSON turns the json.Numbers in v into int64, uint64 or float64, the
// narrowest that holds each.
func fromJSON(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(v), 10, 64); err == nil {
			return u
		}
		f, _ := v.Float64()
		return f
	case []any:
		for i := range v {
			v[i] = fromJSON(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = fromJSON(v[k])
		}
	}
	return v
}

func msgpackToJSON(b []byte) ([]byte, error) {
	v, err := msgpack.NewDecoder(bytes.NewReader(b)).DecodeInterface()
	if err != nil {
		return nil, fmt.Errorf("client: decode MessagePack: %w", err)
	}
	v, err = toJSON(v)
	if err != nil {
		return nil, fmt.Errorf("client: decode MessagePack: %w", err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("client: decode MessagePack: %w", err)
	}
	return js, nil
}

// toJSON makes a decoded MessagePack value marshallable as JSON: maps with
// keys other than strings get string keys.
func toJSON(v any) (any, error) {
	switch v := v.(type) {
	case []any:
		for i := range v {
			var err error
			if v[i], err = toJSON(v[i]); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k := range v {
			var err error
			if v[k], err = toJSON(v[k]); err != nil {
				return nil, err
			}
		}
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			switch k.(type) {
			case string, int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool:
			default:
				return nil, errors.New("a map key is not a string or a number")
			}
			var err error
			if m[fmt.Sprint(k)], err = toJSON(e); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	return v, nil
}
