package jsoncheck

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// decoder writes a value its check accepts straight into the Go value that
// json.Unmarshal would make of it, in the same pass over the bytes as the
// check: a parameter is read once. It covers strings, booleans, integers,
// floats, structs without embedded fields, and slices and pointers of
// those. A type with its own UnmarshalJSON or UnmarshalText, a map, an
// interface or a field json names differently from the schema has none.
//
// Where it cannot be sure of giving what json.Unmarshal gives (a key that
// is no property, which json.Unmarshal may match to a field regardless of
// case; an integer too large for its Go type) it gives up, and the
// parameter takes the slower path: the check, then json.Unmarshal.
// FuzzCheck holds it to the value json.Unmarshal gives.
type decoder struct {
	node *checkNode
	typ  reflect.Type
	kind reflect.Kind
	elem *decoder // of a slice or a pointer

	// Structs, one per node.props: the field's index and decoder.
	fields []int
	subs   []*decoder
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// compileDecoder returns a decoder of values of n into t, or nil when t or
// the pairing of t with n is not covered.
func compileDecoder(n *checkNode, t reflect.Type, depth int) *decoder {
	if n == nil || depth > maxSchemaDepth || unmarshalsItself(t) {
		return nil
	}
	d := &decoder{node: n, typ: t, kind: t.Kind()}
	ok := false
	switch d.kind {
	case reflect.String:
		ok = n.kind == kindString
	case reflect.Bool:
		ok = n.kind == kindBoolean
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		ok = n.kind == kindInteger
	case reflect.Float32, reflect.Float64:
		ok = n.kind == kindInteger || n.kind == kindNumber
	case reflect.Pointer:
		d.elem = compileDecoder(n, t.Elem(), depth+1)
		ok = d.elem != nil
	case reflect.Slice:
		if n.kind == kindArray {
			d.elem = compileDecoder(n.items, t.Elem(), depth+1)
			ok = d.elem != nil
		}
	case reflect.Struct:
		ok = n.kind == kindObject && d.compileFields(t, depth)
	}
	if !ok {
		return nil
	}
	return d
}

func unmarshalsItself(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(jsonUnmarshalerType) || t.Implements(textUnmarshalerType) ||
		pt.Implements(jsonUnmarshalerType) || pt.Implements(textUnmarshalerType)
}

// compileFields pairs each property of d.node with the field json.Unmarshal
// fills from the key of exactly that name.
func (d *decoder) compileFields(t reflect.Type, depth int) bool {
	byName := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return false // json's rules for promoted fields are not repeated here
		}
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if strings.Contains(","+opts+",", ",string,") || !plainName(name) {
			return false
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := byName[name]; dup {
			return false // json.Unmarshal fills neither
		}
		byName[name] = i
	}
	for _, p := range d.node.props {
		i, ok := byName[p.name]
		if !ok {
			return false
		}
		sub := compileDecoder(p.node, t.Field(i).Type, depth+1)
		if sub == nil {
			return false
		}
		d.fields, d.subs = append(d.fields, i), append(d.subs, sub)
	}
	return true
}

// plainName reports whether a json tag's name is one json.Unmarshal takes
// as it is (it ignores some names with unusual characters).
func plainName(name string) bool {
	for _, c := range name {
		if !(c == '_' || c == '-' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Decodes reports whether the check decodes values into the Go type it was
// compiled with: whether Decode and DecodeAt can succeed.
func (c *Check) Decodes() bool { return c.dec != nil }

// Decode checks raw, one JSON value, and decodes it into the Go type the
// check was compiled with, as json.Unmarshal would, in the same pass. It
// reports false when the value is refused, or not surely decoded as
// json.Unmarshal would decode it; the caller then checks and decodes it the
// slower way.
func (c *Check) Decode(raw []byte) (reflect.Value, bool) {
	if c.dec == nil {
		return reflect.Value{}, false
	}
	ptr := reflect.New(c.dec.typ)
	s := Scanner{b: raw}
	s.space()
	if !s.decode(c.dec, ptr.Elem(), 0) {
		return reflect.Value{}, false
	}
	s.space()
	if s.i != len(s.b) {
		return reflect.Value{}, false
	}
	return ptr.Elem(), true
}

// DecodeAt decodes the value at s's offset, as Decode does raw, allocating
// at most about budget bytes for it (its slices and pointers); past that,
// or when the value is not decoded, it reports false and leaves s where it
// was. The value is an item of the document (depth 1).
func (c *Check) DecodeAt(s *Scanner, budget int) (reflect.Value, bool) {
	if c.dec == nil {
		return reflect.Value{}, false
	}
	start := s.i
	s.budget = budget
	defer func() { s.budget = 0 }()
	if !s.spend(int(c.dec.typ.Size())) {
		return reflect.Value{}, false
	}
	ptr := reflect.New(c.dec.typ)
	if !s.decode(c.dec, ptr.Elem(), 1) {
		s.i = start
		return reflect.Value{}, false
	}
	return ptr.Elem(), true
}

// decode reads one value at s.i into v, checking d.node's rules on it.
func (s *Scanner) decode(d *decoder, v reflect.Value, depth int) bool {
	if depth > MaxDepth || s.i >= len(s.b) {
		return false
	}
	n := d.node
	switch d.kind {
	case reflect.Pointer:
		if !s.spend(int(d.typ.Elem().Size())) {
			return false
		}
		e := reflect.New(d.typ.Elem())
		if !s.decode(d.elem, e.Elem(), depth) {
			return false
		}
		v.Set(e)
	case reflect.String:
		str, ok := s.string()
		if !ok || !n.checkString(str) {
			return false
		}
		v.SetString(string(str))
	case reflect.Bool:
		switch {
		case s.literal("true"):
			v.SetBool(true)
		case s.literal("false"):
		default:
			return false
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x, ok := s.integer(n)
		if !ok || v.OverflowInt(x) {
			return false
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		x, ok := s.integer(n)
		if !ok || x < 0 || v.OverflowUint(uint64(x)) {
			return false
		}
		v.SetUint(uint64(x))
	case reflect.Float32, reflect.Float64:
		return s.float(n, d.typ.Bits(), v)
	case reflect.Slice:
		return s.decodeArray(d, v, depth)
	case reflect.Struct:
		return s.decodeObject(d, v, depth)
	default:
		return false
	}
	return true
}

// spend takes n bytes from the budget, if there is one, and reports whether
// they were there.
func (s *Scanner) spend(n int) bool {
	if s.budget <= 0 {
		return true
	}
	if s.budget <= n {
		return false
	}
	s.budget -= n
	return true
}

// integer reads a plain integer that n allows.
func (s *Scanner) integer(n *checkNode) (int64, bool) {
	tok, plain, ok := s.number()
	if !ok || !plain || !n.checkInteger(tok) {
		return 0, false
	}
	return parseInt(tok)
}

// float reads a number that n allows into v, as json.Unmarshal rounds it.
func (s *Scanner) float(n *checkNode, bits int, v reflect.Value) bool {
	tok, plain, ok := s.number()
	switch {
	case !ok:
		return false
	case n.kind == kindInteger && (!plain || !n.checkInteger(tok)):
		return false
	case n.kind == kindNumber && !n.checkNumber(tok):
		return false
	}
	f, err := strconv.ParseFloat(string(tok), bits)
	if err != nil || v.OverflowFloat(f) {
		return false
	}
	v.SetFloat(f)
	return true
}

func (s *Scanner) decodeArray(d *decoder, v reflect.Value, depth int) bool {
	n := d.node
	if s.b[s.i] != '[' {
		return false
	}
	s.i++
	if s.next() == ']' {
		s.i++
		v.Set(reflect.MakeSlice(d.typ, 0, 0)) // json.Unmarshal makes [] an empty slice, not nil
		return n.minItems <= 0
	}
	for items := 1; ; items++ {
		if n.maxItems >= 0 && items > n.maxItems {
			return false
		}
		if c := v.Cap(); v.Len() == c {
			more := max(4, c/2) // as json.Unmarshal grows a slice
			if !s.spend(more * int(d.typ.Elem().Size())) {
				return false
			}
			v.Grow(more)
		}
		v.SetLen(items)
		s.space()
		if !s.decode(d.elem, v.Index(items-1), depth+1) {
			return false
		}
		c := s.next()
		s.i++
		switch {
		case c == ']':
			return items >= n.minItems
		case c != ',':
			return false
		}
	}
}

func (s *Scanner) decodeObject(d *decoder, v reflect.Value, depth int) bool {
	n := d.node
	if s.b[s.i] != '{' {
		return false
	}
	s.i++
	var seen uint64
	if s.next() == '}' {
		s.i++
		return n.required == 0
	}
	for {
		if s.next() != '"' {
			return false
		}
		key, ok := s.string()
		if !ok || s.next() != ':' {
			return false
		}
		s.i++
		s.space()
		i := n.keyIndex(key)
		if i < 0 || seen&(1<<i) != 0 {
			return false // an unknown key or a duplicate: see decoder
		}
		seen |= 1 << i
		if !s.decode(d.subs[i], v.Field(d.fields[i]), depth+1) {
			return false
		}
		c := s.next()
		s.i++
		switch {
		case c == '}':
			return seen&n.required == n.required
		case c != ',':
			return false
		}
	}
}
