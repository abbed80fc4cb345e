package jsoncheck

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"strconv"
	"unicode/utf8"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"
)

// Check is a JSON Schema compiled to work on the raw JSON bytes: it tells
// whether a value is valid in one pass over them, without building a
// generic value and without math/big. It covers what reflection from Go
// types and jsonschema tags produces (types, properties, required,
// additionalProperties, lengths, numeric bounds, enum, pattern, format,
// items and their counts); Compile returns nil for a schema with anything
// else, which a full validator then checks alone.
//
// When unsure (a duplicate or escaped-and-odd key, an integer written 1.0,
// a number equal to its bound once rounded) a check refuses: a refusal is
// for the full validator, which has the last word and words the message.
// A check never accepts what the full validator refuses; FuzzCheck holds
// it to that.
type Check struct {
	root *checkNode
	dec  *decoder // nil when the Go type is not covered
}

type nodeKind uint8

const (
	kindAny nodeKind = iota
	kindString
	kindInteger
	kindNumber
	kindBoolean
	kindObject
	kindArray
)

// checkNode is one compiled schema. Only the fields of its kind are used.
type checkNode struct {
	kind nodeKind

	// Strings. A length of -1 is no bound.
	minLen, maxLen int
	pattern        *regexp.Regexp
	format         *sjs.Schema // validates the format alone
	strEnum        []string

	// Integers, as inclusive bounds.
	hasMin, hasMax bool
	min, max       int64
	intEnum        []int64

	// Numbers.
	lower, upper bound

	// Arrays. A count of -1 is no bound.
	items              *checkNode
	minItems, maxItems int

	// Objects: extra checks keys not in props; nil refuses them.
	props    []prop
	required uint64 // bit i: props[i] is required
	extra    *checkNode
}

type prop struct {
	name string
	node *checkNode
}

// bound is a bound of a number: its value rounded to a float64, and
// exactly, for the rare value equal to it once rounded.
type bound struct {
	set       bool
	exclusive bool
	f         float64
	exact     *big.Rat
}

// maxSchemaDepth bounds the nesting of a compiled schema, MaxDepth that of
// the values a Scanner reads (encoding/json's own bound); deeper goes to the
// full validator.
const (
	maxSchemaDepth = 32
	MaxDepth       = 10000
)

// annotations are keywords that never refuse a value.
var annotations = map[string]bool{
	"title": true, "description": true, "default": true, "examples": true,
	"deprecated": true, "readOnly": true, "writeOnly": true, "$comment": true,
}

// keywords lists, per type, the keywords a compiled check enforces. The
// content keywords only annotate: the validator asserts no content.
var keywords = map[string]map[string]bool{
	"string": {"minLength": true, "maxLength": true, "pattern": true, "format": true, "enum": true,
		"contentEncoding": true, "contentMediaType": true},
	"integer": {"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true, "enum": true},
	"number":  {"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true},
	"boolean": {},
	"array":   {"items": true, "minItems": true, "maxItems": true},
	"object":  {"properties": true, "required": true, "additionalProperties": true},
}

// Compile compiles a schema given as JSON, or returns nil when it uses a
// keyword or a form a Check does not cover. With t, the Go type values of
// the schema are decoded into, the check also decodes them when it can
// (see Decode); t may be nil.
func Compile(schema []byte, t reflect.Type) *Check {
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil
	}
	root, ok := compileNode(doc, 0)
	if !ok {
		return nil
	}
	c := &Check{root: root}
	if t != nil {
		c.dec = compileDecoder(root, t, 0)
	}
	return c
}

func compileNode(v any, depth int) (*checkNode, bool) {
	if depth > maxSchemaDepth {
		return nil, false
	}
	switch v := v.(type) {
	case bool:
		return &checkNode{kind: kindAny}, v // false refuses everything: rare, left to the validator
	case map[string]any:
		return compileObjectSchema(v, depth)
	}
	return nil, false
}

func compileObjectSchema(s map[string]any, depth int) (*checkNode, bool) {
	t, typed := s["type"].(string)
	if _, has := s["type"]; has && !typed {
		return nil, false // a list of types
	}
	allowed := keywords[t]
	if typed && allowed == nil {
		return nil, false // "null"
	}
	for k := range s {
		if k != "type" && !annotations[k] && !allowed[k] {
			return nil, false
		}
	}
	n := &checkNode{minLen: -1, maxLen: -1, minItems: -1, maxItems: -1}
	var ok bool
	switch t {
	case "":
		n.kind, ok = kindAny, true
	case "string":
		n.kind = kindString
		ok = compileString(n, s)
	case "integer":
		n.kind = kindInteger
		ok = compileInteger(n, s)
	case "number":
		n.kind = kindNumber
		ok = compileNumber(n, s)
	case "boolean":
		n.kind, ok = kindBoolean, true
	case "array":
		n.kind = kindArray
		ok = compileArray(n, s, depth)
	case "object":
		n.kind = kindObject
		ok = compileObject(n, s, depth)
	}
	return n, ok
}

// count reads a non-negative integer keyword such as minLength; -1 if absent.
func count(s map[string]any, key string) (int, bool) {
	v, has := s[key]
	if !has {
		return -1, true
	}
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := num.Int64()
	if err != nil || i < 0 || i > math.MaxInt32 {
		return 0, false
	}
	return int(i), true
}

func compileString(n *checkNode, s map[string]any) bool {
	var ok1, ok2 bool
	n.minLen, ok1 = count(s, "minLength")
	n.maxLen, ok2 = count(s, "maxLength")
	if !ok1 || !ok2 {
		return false
	}
	if p, has := s["pattern"]; has {
		ps, ok := p.(string)
		if !ok {
			return false
		}
		re, err := regexp.Compile(ps) // as the validator compiles it
		if err != nil {
			return false
		}
		n.pattern = re
	}
	if f, has := s["format"]; has {
		fs, ok := f.(string)
		if !ok {
			return false
		}
		if n.format = compileFormat(fs); n.format == nil {
			return false
		}
	}
	if e, has := s["enum"]; has {
		list, ok := e.([]any)
		if !ok {
			return false
		}
		for _, v := range list {
			str, ok := v.(string)
			if !ok {
				return false
			}
			n.strEnum = append(n.strEnum, str)
		}
		if n.strEnum == nil {
			return false
		}
	}
	return true
}

// compileFormat returns a validator of one format alone, asserted as the
// full validator asserts it.
func compileFormat(format string) *sjs.Schema {
	raw, err := json.Marshal(map[string]string{"format": format})
	if err != nil {
		return nil
	}
	doc, err := sjs.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil
	}
	c := sjs.NewCompiler()
	c.DefaultDraft(sjs.Draft2020)
	c.AssertFormat()
	const url = "mem:///format.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil
	}
	return sch
}

// rat reads a numeric keyword exactly.
func rat(s map[string]any, key string) (*big.Rat, bool, bool) {
	v, has := s[key]
	if !has {
		return nil, false, true
	}
	num, ok := v.(json.Number)
	if !ok {
		return nil, false, false
	}
	r, ok := new(big.Rat).SetString(string(num))
	return r, true, ok
}

func compileInteger(n *checkNode, s map[string]any) bool {
	one := big.NewRat(1, 1)
	// lowest and highest integers allowed, exactly; nil when unbounded.
	var lo, hi *big.Rat
	tighten := func(key string, lower, exclusive bool) bool {
		r, has, ok := rat(s, key)
		if !ok || !has {
			return ok
		}
		var b *big.Rat
		if lower {
			b = ceilRat(r)
			if exclusive && b.Cmp(r) == 0 {
				b.Add(b, one)
			}
			if lo == nil || b.Cmp(lo) > 0 {
				lo = b
			}
		} else {
			b = floorRat(r)
			if exclusive && b.Cmp(r) == 0 {
				b.Sub(b, one)
			}
			if hi == nil || b.Cmp(hi) < 0 {
				hi = b
			}
		}
		return true
	}
	if !tighten("minimum", true, false) || !tighten("exclusiveMinimum", true, true) ||
		!tighten("maximum", false, false) || !tighten("exclusiveMaximum", false, true) {
		return false
	}
	minInt, maxInt := new(big.Rat).SetInt64(math.MinInt64), new(big.Rat).SetInt64(math.MaxInt64)
	if lo != nil && lo.Cmp(minInt) > 0 {
		if lo.Cmp(maxInt) > 0 {
			return false
		}
		n.hasMin, n.min = true, lo.Num().Int64()
	}
	if hi != nil && hi.Cmp(maxInt) < 0 {
		if hi.Cmp(minInt) < 0 {
			return false
		}
		n.hasMax, n.max = true, hi.Num().Int64()
	}
	if e, has := s["enum"]; has {
		list, ok := e.([]any)
		if !ok || len(list) == 0 {
			return false
		}
		for _, v := range list {
			num, ok := v.(json.Number)
			if !ok {
				return false
			}
			i, err := num.Int64()
			if err != nil {
				return false // 1.0 or beyond int64: left to the validator
			}
			n.intEnum = append(n.intEnum, i)
		}
	}
	return true
}

func ceilRat(r *big.Rat) *big.Rat {
	q := new(big.Int).Div(r.Num(), r.Denom()) // Euclidean: rounds towards -inf for a positive denominator
	if new(big.Rat).SetInt(q).Cmp(r) < 0 {
		q.Add(q, big.NewInt(1))
	}
	return new(big.Rat).SetInt(q)
}

func floorRat(r *big.Rat) *big.Rat {
	q := new(big.Int).Div(r.Num(), r.Denom())
	return new(big.Rat).SetInt(q)
}

func compileNumber(n *checkNode, s map[string]any) bool {
	read := func(b *bound, key string, exclusive bool) bool {
		r, has, ok := rat(s, key)
		if !ok || !has {
			return ok
		}
		if b.set {
			return false // both forms of one side: left to the validator
		}
		f, _ := r.Float64()
		if math.IsInf(f, 0) {
			return false
		}
		*b = bound{set: true, exclusive: exclusive, f: f, exact: r}
		return true
	}
	return read(&n.lower, "minimum", false) && read(&n.lower, "exclusiveMinimum", true) &&
		read(&n.upper, "maximum", false) && read(&n.upper, "exclusiveMaximum", true)
}

func compileArray(n *checkNode, s map[string]any, depth int) bool {
	var ok1, ok2 bool
	n.minItems, ok1 = count(s, "minItems")
	n.maxItems, ok2 = count(s, "maxItems")
	if !ok1 || !ok2 {
		return false
	}
	n.items = &checkNode{kind: kindAny}
	if it, has := s["items"]; has {
		var ok bool
		if n.items, ok = compileNode(it, depth+1); !ok {
			return false
		}
	}
	return true
}

func compileObject(n *checkNode, s map[string]any, depth int) bool {
	if ps, has := s["properties"]; has {
		m, ok := ps.(map[string]any)
		if !ok || len(m) > 64 {
			return false
		}
		for name, ps := range m {
			pn, ok := compileNode(ps, depth+1)
			if !ok {
				return false
			}
			n.props = append(n.props, prop{name: name, node: pn})
		}
	}
	if rs, has := s["required"]; has {
		list, ok := rs.([]any)
		if !ok {
			return false
		}
		for _, r := range list {
			name, ok := r.(string)
			i := n.propIndex(name)
			if !ok || i < 0 {
				return false // a required name without a property: left to the validator
			}
			n.required |= 1 << i
		}
	}
	n.extra = &checkNode{kind: kindAny}
	if ap, has := s["additionalProperties"]; has {
		if b, ok := ap.(bool); ok && !b {
			n.extra = nil
		} else {
			var ok bool
			if n.extra, ok = compileNode(ap, depth+1); !ok {
				return false
			}
		}
	}
	return true
}

func (n *checkNode) propIndex(name string) int {
	for i := range n.props {
		if n.props[i].name == name {
			return i
		}
	}
	return -1
}

// Accepts reports whether raw, one JSON value, is valid for sure.
func (c *Check) Accepts(raw []byte) bool {
	s := Scanner{b: raw}
	s.space()
	if !s.value(c.root, 0) {
		return false
	}
	s.space()
	return s.i == len(s.b)
}

// Scanner reads JSON from b at i. A caller splitting a document (such as a
// request body into its parameters) walks it with Peek, Advance, Space and
// SkipValue, and hands values to Check.DecodeAt on the way.
type Scanner struct {
	b []byte
	i int
	// syntaxOnly makes any check the strings it skips for JSON's syntax
	// alone, without decoding them or checking them for UTF-8.
	syntaxOnly bool
	// budget, when above zero, bounds the bytes a decoder may allocate
	// for slices and pointers; it gives up past it.
	budget int
}

// NewScanner returns a scanner of b that checks the strings it skips for
// JSON's syntax alone (b is known to be UTF-8).
func NewScanner(b []byte) Scanner { return Scanner{b: b, syntaxOnly: true} }

// Peek skips white space and returns the byte there, or 0 at the end.
func (s *Scanner) Peek() byte { return s.next() }

// Advance moves past the byte Peek returned.
func (s *Scanner) Advance() { s.i++ }

// Space skips white space.
func (s *Scanner) Space() { s.space() }

// Offset is where the scanner is in b.
func (s *Scanner) Offset() int { return s.i }

// AtEnd reports whether the scanner read all of b.
func (s *Scanner) AtEnd() bool { return s.i == len(s.b) }

// SkipValue moves over the well-formed value at the scanner's offset,
// nested depth deep in its document, and reports whether there was one.
// It refuses nesting past MaxDepth.
func (s *Scanner) SkipValue(depth int) bool { return s.any(depth) }

func (s *Scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// next skips white space and returns the byte there, or 0 at the end.
func (s *Scanner) next() byte {
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *Scanner) value(n *checkNode, depth int) bool {
	if depth > MaxDepth || s.i >= len(s.b) {
		return false
	}
	switch n.kind {
	case kindAny:
		return s.any(depth)
	case kindString:
		str, ok := s.string()
		return ok && n.checkString(str)
	case kindInteger:
		tok, plain, ok := s.number()
		return ok && plain && n.checkInteger(tok)
	case kindNumber:
		tok, _, ok := s.number()
		return ok && n.checkNumber(tok)
	case kindBoolean:
		return s.literal("true") || s.literal("false")
	case kindArray:
		return s.array(n, depth)
	case kindObject:
		return s.object(n, depth)
	}
	return false
}

// any skips over any well-formed value.
func (s *Scanner) any(depth int) bool {
	if depth > MaxDepth || s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.skipString()
	case c == '-' || c >= '0' && c <= '9':
		_, _, ok := s.number()
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '[':
		s.i++
		if s.next() == ']' {
			s.i++
			return true
		}
		for {
			s.space()
			if !s.any(depth + 1) {
				return false
			}
			switch s.next() {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == '{':
		s.i++
		if s.next() == '}' {
			s.i++
			return true
		}
		for {
			if s.next() != '"' {
				return false
			}
			if !s.skipString() || s.next() != ':' {
				return false
			}
			s.i++
			s.space()
			if !s.any(depth + 1) {
				return false
			}
			switch s.next() {
			case ',':
				s.i++
			case '}':
				s.i++
				return true
			default:
				return false
			}
		}
	}
	return false
}

func (s *Scanner) literal(word string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		s.i += len(word)
		return true
	}
	return false
}

// skipString skips a string: s.string, or with syntaxOnly the same check of
// escapes and control bytes without decoding.
func (s *Scanner) skipString() bool {
	if !s.syntaxOnly {
		_, ok := s.string()
		return ok
	}
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	for i := s.i + 1; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if i++; i >= len(s.b) {
				return false
			}
			switch s.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s.b) || !isHex4(s.b[i+1:i+5]) {
					return false
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// string reads a string and returns its text: the bytes between the quotes
// when it has no escape, else the decoded text.
func (s *Scanner) string() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	escaped, wide := false, false
	for i := start; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			text := s.b[start:i]
			if escaped {
				var str string
				if json.Unmarshal(s.b[start-1:i+1], &str) != nil {
					return nil, false
				}
				return []byte(str), true
			}
			if wide && !validUTF8(text) {
				return nil, false // decoding would change it: left to the validator
			}
			return text, true
		case c == '\\':
			escaped = true
			i++
		case c < 0x20:
			return nil, false
		case c >= 0x80:
			wide = true
		}
	}
	return nil, false
}

// number reads a number; plain reports an integer written without fraction
// or exponent.
func (s *Scanner) number() (tok []byte, plain, ok bool) {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, false, false
	}
	plain = true
	if i < len(b) && b[i] == '.' {
		plain = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		plain = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	tok = b[s.i:i]
	s.i = i
	return tok, plain, true
}

func (s *Scanner) array(n *checkNode, depth int) bool {
	if s.b[s.i] != '[' {
		return false
	}
	s.i++
	items := 0
	if s.next() == ']' {
		s.i++
	} else {
		for {
			items++
			if n.maxItems >= 0 && items > n.maxItems {
				return false
			}
			s.space()
			if !s.value(n.items, depth+1) {
				return false
			}
			c := s.next()
			s.i++
			if c == ']' {
				break
			}
			if c != ',' {
				return false
			}
		}
	}
	return items >= n.minItems
}

func (s *Scanner) object(n *checkNode, depth int) bool {
	if s.b[s.i] != '{' {
		return false
	}
	s.i++
	var seen uint64
	if s.next() == '}' {
		s.i++
	} else {
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
			sub := n.extra
			if i := n.keyIndex(key); i >= 0 {
				if seen&(1<<i) != 0 {
					return false // a duplicate: which one counts is the validator's business
				}
				seen |= 1 << i
				sub = n.props[i].node
			}
			if sub == nil || !s.value(sub, depth+1) {
				return false
			}
			c := s.next()
			s.i++
			if c == '}' {
				break
			}
			if c != ',' {
				return false
			}
		}
	}
	return seen&n.required == n.required
}

func (n *checkNode) keyIndex(key []byte) int {
	for i := range n.props {
		if n.props[i].name == string(key) {
			return i
		}
	}
	return -1
}

func (n *checkNode) checkString(text []byte) bool {
	if n.minLen >= 0 || n.maxLen >= 0 {
		l := runeCount(text)
		if n.minLen >= 0 && l < n.minLen || n.maxLen >= 0 && l > n.maxLen {
			return false
		}
	}
	if n.strEnum != nil && !containsString(n.strEnum, text) {
		return false
	}
	if n.pattern != nil && !n.pattern.Match(text) {
		return false
	}
	if n.format != nil && n.format.Validate(string(text)) != nil {
		return false
	}
	return true
}

func containsString(list []string, text []byte) bool {
	for _, s := range list {
		if s == string(text) {
			return true
		}
	}
	return false
}

// checkInteger checks a plain integer token.
func (n *checkNode) checkInteger(tok []byte) bool {
	v, ok := parseInt(tok)
	if !ok {
		return false // beyond int64: left to the validator
	}
	if n.hasMin && v < n.min || n.hasMax && v > n.max {
		return false
	}
	if n.intEnum != nil {
		for _, e := range n.intEnum {
			if e == v {
				return true
			}
		}
		return false
	}
	return true
}

func parseInt(tok []byte) (int64, bool) {
	neg := len(tok) > 0 && tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	if len(tok) == 0 || len(tok) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range tok {
		u = u*10 + uint64(c-'0')
	}
	switch {
	case !neg && u <= math.MaxInt64:
		return int64(u), true
	case neg && u <= 1<<63:
		return -int64(u), true
	}
	return 0, false
}

func (n *checkNode) checkNumber(tok []byte) bool {
	if !n.lower.set && !n.upper.set {
		return true
	}
	f, err := parseFloat(tok)
	if err != nil {
		return false
	}
	return n.lower.allows(f, tok, -1) && n.upper.allows(f, tok, 1)
}

// allows reports whether the number tok (f once rounded) is on the allowed
// side of b: above it for side -1, below for side 1. Rounding to a float64
// keeps order, so only a value equal to the bound once rounded needs the
// exact comparison.
func (b *bound) allows(f float64, tok []byte, side int) bool {
	if !b.set {
		return true
	}
	cmp := 0
	switch {
	case f < b.f:
		cmp = -1
	case f > b.f:
		cmp = 1
	default:
		r, ok := new(big.Rat).SetString(string(tok))
		if !ok {
			return false
		}
		cmp = r.Cmp(b.exact)
	}
	cmp *= -side // > 0: on the allowed side
	return cmp > 0 || cmp == 0 && !b.exclusive
}

func validUTF8(b []byte) bool { return utf8.Valid(b) }

func runeCount(b []byte) int { return utf8.RuneCount(b) }

func parseFloat(tok []byte) (float64, error) { return strconv.ParseFloat(string(tok), 64) }
