package read

import (
	"encoding/json"
	"io"
	"slices"
	"strconv"

	"github.com/authrpc/authrpc/internal/quote"
)

// pathKey shortens a key from the request for a path in a message.
func pathKey(key string) string {
	if len(key) <= 40 && isWord(key) {
		return key
	}
	return "[" + quote.Short(key) + "]"
}

// A node is a decoded JSON value. Arrays keep at most maxItems items
// (count has the true length) and nesting stops at maxDepth: nothing the
// options accept is larger, so refusals need no more.
type node struct {
	kind  nodeKind
	b     bool
	s     string // a string, or a number's text
	items []node
	count int
	keys  []string
	vals  []node
}

type nodeKind uint8

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

const (
	maxDepth = 4 // options{where{field[op, [values]]}}
	maxItems = maxInValues + 1
)

func (v *node) describe() string {
	switch v.kind {
	case kindNull:
		return "null"
	case kindBool:
		return strconv.FormatBool(v.b)
	case kindNumber:
		if len(v.s) > 40 {
			return v.s[:40] + "…"
		}
		return v.s
	case kindString:
		return quote.Short(v.s)
	case kindArray:
		if v.count == 0 {
			return "an empty array"
		}
		return "an array"
	}
	return "an object"
}

// reader decodes options token by token into nodes, refusing duplicate keys
// and bounding what it keeps; path names the value in messages.
type reader struct {
	dec *json.Decoder
}

func (r *reader) value(path string, depth int) (node, *Error) {
	tok, err := r.dec.Token()
	if err != nil {
		return node{}, syntaxError(err)
	}
	switch t := tok.(type) {
	case nil:
		return node{kind: kindNull}, nil
	case bool:
		return node{kind: kindBool, b: t}, nil
	case json.Number:
		return node{kind: kindNumber, s: string(t)}, nil
	case string:
		return node{kind: kindString, s: t}, nil
	case json.Delim:
		if depth >= maxDepth {
			kind := kindObject
			if t == '[' {
				kind = kindArray
			}
			// count 1 so that it does not read as an empty array.
			return node{kind: kind, count: 1}, r.skip()
		}
		if t == '[' {
			return r.array(path, depth)
		}
		return r.object(path, depth)
	}
	return node{}, errorf("%s: unexpected JSON token", path)
}

func (r *reader) array(path string, depth int) (node, *Error) {
	n := node{kind: kindArray}
	for r.dec.More() {
		item, err := r.value(path, depth+1)
		if err != nil {
			return n, err
		}
		if n.count < maxItems {
			n.items = append(n.items, item)
		}
		n.count++
	}
	if _, err := r.dec.Token(); err != nil {
		return n, syntaxError(err)
	}
	return n, nil
}

func (r *reader) object(path string, depth int) (node, *Error) {
	n := node{kind: kindObject}
	for r.dec.More() {
		tok, err := r.dec.Token()
		if err != nil {
			return n, syntaxError(err)
		}
		key, _ := tok.(string)
		if slices.Contains(n.keys, key) {
			return n, errorf("%s: duplicate key %s", path, quote.Short(key))
		}
		if len(n.keys) >= maxItems {
			return n, errorf("%s: too many keys", path)
		}
		val, verr := r.value(path+"."+pathKey(key), depth+1)
		if verr != nil {
			return n, verr
		}
		n.keys = append(n.keys, key)
		n.vals = append(n.vals, val)
	}
	if _, err := r.dec.Token(); err != nil {
		return n, syntaxError(err)
	}
	return n, nil
}

// skip consumes the rest of a value whose opening delimiter was read.
func (r *reader) skip() *Error {
	for depth := 1; depth > 0; {
		tok, err := r.dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '[' || d == '{' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

func syntaxError(err error) *Error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return errorf("options: not valid JSON: %v", err)
}
