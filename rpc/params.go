package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/authrpc/authrpc/rpc/internal/jsoncheck"
	"github.com/invopop/jsonschema"
	sjs "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// param is a compiled Param: its schema, validator and Go type.
type param struct {
	Param
	index  int // 1-based position, for messages
	typ    reflect.Type
	schema *jsonschema.Schema

	// simple, when not empty, is the JSON type of a schema with no other
	// keyword ({"type":"string"}): checked by the value's first byte instead
	// of the general validator, the common case on the hot path.
	simple    string
	anything  bool // the schema accepts any value
	validator *sjs.Schema
	nullOK    bool             // null is a value of the schema, not an omitted parameter
	check     *jsoncheck.Check // the schema compiled for raw bytes, when it can be
}

func (r *Registry) compileParam(i int, p Param, t reflect.Type) (*param, error) {
	cp := &param{Param: p, index: i + 1, typ: t}
	if p.Read != nil {
		if t != readOptionsType {
			return nil, fmt.Errorf("a param with read options must be of type read.Options, not %s", t)
		}
		if err := p.Read.Check(); err != nil {
			return nil, err
		}
		return cp, nil
	}
	if t == readOptionsType {
		return nil, fmt.Errorf("a read.Options param needs Param.Read to declare its fields")
	}
	cp.schema = p.Schema
	if cp.schema == nil {
		cp.schema = r.reflector.ReflectFromType(t)
		cp.schema.Version = ""
		cp.schema.ID = ""
	}
	raw, err := json.Marshal(cp.schema)
	if err != nil {
		return nil, fmt.Errorf("marshal schema: %w", err)
	}
	switch string(raw) {
	case `{"type":"string"}`, `{"type":"boolean"}`, `{"type":"integer"}`, `{"type":"number"}`:
		cp.simple = cp.schema.Type
		return cp, nil
	case `true`, `{}`:
		cp.anything = true
		return cp, nil
	}
	doc, err := sjs.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	c := sjs.NewCompiler()
	c.DefaultDraft(sjs.Draft2020)
	c.AssertFormat()
	const url = "mem:///param.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	if cp.validator, err = c.Compile(url); err != nil {
		return nil, fmt.Errorf("compile schema: %w", err)
	}
	cp.nullOK = cp.validator.Validate(nil) == nil
	cp.check = jsoncheck.Compile(raw, t)
	return cp, nil
}

// label names the parameter in messages: parameter 2 "enabled".
func (p *param) label() string { return fmt.Sprintf("parameter %d %q", p.index, p.Name) }

// decodeParams checks raw positional parameters against the method's schemas
// and decodes them into the handler's argument types, after the context
// at args[0] (and the upload at args[1], for a handler that takes it).
//
// Parameters pre holds, decoded as the body was split, are taken as they are.
func (m *method) decodeParams(raws []json.RawMessage, args []reflect.Value, pre *predecoded) *Error {
	if len(raws) > len(m.params) {
		// Counted with the file's place, for a method that takes the file first.
		extra := m.firstParam - 1
		return InvalidParams("too many parameters: the method takes %d, got %d", len(m.params)+extra, len(raws)+extra)
	}
	for i, p := range m.params {
		if v, ok := pre.value(i); ok {
			args[i+m.firstParam] = v
			continue
		}
		var raw json.RawMessage
		if i < len(raws) {
			raw = raws[i]
		}
		v, err := p.decode(raw)
		if err != nil {
			return err
		}
		args[i+m.firstParam] = v
	}
	return nil
}

func (p *param) decode(raw json.RawMessage) (reflect.Value, *Error) {
	absent := len(raw) == 0 || string(raw) == "null"
	if p.Read != nil {
		// Parse also checks an omitted parameter: a spec may require a field.
		opts, err := p.Read.Parse(raw)
		if err != nil {
			// A *read.Error's text is its message, which names the parts of
			// the options object ("options.where.id: …").
			msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "options."), "options: ")
			return reflect.Value{}, InvalidParams("%s: %s", p.label(), msg)
		}
		return reflect.ValueOf(opts), nil
	}
	if absent {
		if !p.Optional && (len(raw) == 0 || !p.acceptsNull()) {
			return reflect.Value{}, InvalidParams("%s is required", p.label())
		}
		return reflect.Zero(p.typ), nil
	}
	if p.check != nil {
		if v, ok := p.check.Decode(raw); ok {
			return v, nil // checked and decoded in one pass
		}
	}
	switch {
	case p.simple != "":
		if got := jsonKind(raw); got != p.simple && !(p.simple == "number" && got == "integer") {
			return reflect.Value{}, InvalidParams("%s: expected %s, got %s", p.label(), article(p.simple), article(got))
		}
	case p.anything:
	case p.check != nil && p.check.Accepts(raw):
		// Valid for sure; a refusal goes on to the full validator, which
		// decides and words the message.
	default:
		if e := p.validate(raw); e != nil {
			return reflect.Value{}, e
		}
	}
	if p.simple == "string" {
		// A string without escapes is its bytes between the quotes; the body
		// was checked to be valid JSON already.
		if s := raw[1 : len(raw)-1]; bytes.IndexByte(s, '\\') < 0 {
			switch {
			case p.typ.Kind() == reflect.String:
				return reflect.ValueOf(string(s)).Convert(p.typ), nil
			case p.typ.Kind() == reflect.Pointer && p.typ.Elem().Kind() == reflect.String:
				v := reflect.New(p.typ.Elem())
				v.Elem().SetString(string(s))
				return v, nil
			}
		}
	}
	ptr := reflect.New(p.typ)
	if err := json.Unmarshal(raw, ptr.Interface()); err != nil {
		return reflect.Value{}, InvalidParams("%s: %s", p.label(), describeDecode(err))
	}
	return ptr.Elem(), nil
}

// validate checks raw with the full validator.
func (p *param) validate(raw json.RawMessage) *Error {
	doc, err := sjs.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return InvalidParams("%s: %v", p.label(), err)
	}
	if err := p.validator.Validate(doc); err != nil {
		return InvalidParams("%s: %s", p.label(), describeValidation(err))
	}
	return nil
}

// acceptsNull reports whether an explicit null is a value of the schema,
// rather than an omitted parameter.
func (p *param) acceptsNull() bool { return p.nullOK || p.anything }

// jsonKind names the JSON type of a well-formed value by its first byte.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	if bytes.ContainsAny(raw, ".eE") {
		return "number"
	}
	return "integer"
}

func article(kind string) string {
	switch kind {
	case "integer", "object", "array":
		return "an " + kind
	case "null", "nothing":
		return kind
	}
	return "a " + kind
}

var validationPrinter = message.NewPrinter(language.Und)

// describeValidation turns a schema violation into one line that names where
// in the value it happened and which rule it broke.
func describeValidation(err error) string {
	var ve *sjs.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var leaves []*sjs.ValidationError
	var walk func(e *sjs.ValidationError)
	walk = func(e *sjs.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	// The validator meets the properties of an object in no fixed order:
	// sorted, the same value always gets the same message.
	parts := make([]string, len(leaves))
	for i, leaf := range leaves {
		msg := describeKind(leaf.ErrorKind)
		if len(leaf.InstanceLocation) > 0 {
			msg = "at /" + strings.Join(leaf.InstanceLocation, "/") + ": " + msg
		}
		parts[i] = msg
	}
	slices.Sort(parts)
	if len(parts) > 3 {
		parts = append(parts[:3], fmt.Sprintf("and %d more", len(parts)-3))
	}
	return strings.Join(parts, "; ")
}

// describeDecode explains why a value that passed its schema still does not
// fit its Go type (an integer too large for int32, say), without Go type names.
func describeDecode(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := ""
		if te.Field != "" {
			where = "at /" + strings.ReplaceAll(te.Field, ".", "/") + ": "
		}
		return fmt.Sprintf("%sa %s value does not fit here", where, te.Value)
	}
	return "the value does not fit the parameter's type"
}

// describeKind words the rules callers break most in plain terms; the
// validator's own wording serves the rest.
func describeKind(k sjs.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = article(w)
		}
		return fmt.Sprintf("expected %s, got %s", strings.Join(want, " or "), article(k.Got))
	case *kind.Minimum:
		return fmt.Sprintf("must be at least %s, got %s", ratString(k.Want), ratString(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("must be at most %s, got %s", ratString(k.Want), ratString(k.Got))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("must be greater than %s, got %s", ratString(k.Want), ratString(k.Got))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("must be less than %s, got %s", ratString(k.Want), ratString(k.Got))
	case *kind.MultipleOf:
		return fmt.Sprintf("must be a multiple of %s, got %s", ratString(k.Want), ratString(k.Got))
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters long, got %d", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long, got %d", k.Want, k.Got)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items, got %d", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items, got %d", k.Want, k.Got)
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d properties, got %d", k.Want, k.Got)
	case *kind.AdditionalProperties:
		// The names come from the request: quote them cut short.
		names := make([]string, 0, min(len(k.Properties), 4))
		for i, name := range slices.Sorted(slices.Values(k.Properties)) {
			if i == 3 {
				names = append(names, fmt.Sprintf("and %d more", len(k.Properties)-3))
				break
			}
			names = append(names, Quote(name))
		}
		return "unknown properties not allowed: " + strings.Join(names, ", ")
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d properties, got %d", k.Want, k.Got)
	}
	return k.LocalizedString(validationPrinter)
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// predecoded holds the parameters of m decoded by their compiled checks as
// the body was split, by position: read once, before the permission check
// that may refuse the call. What a decoder gives up on is decoded again,
// from its raw bytes, once the call is allowed, where a refusal answers.
type predecoded struct {
	m    *method
	vals []reflect.Value // by parameter: the handler's arguments after the context
	done uint8           // bit i: vals[i] holds parameter i
}

// predecodeBudget bounds what decoding a parameter before the permission
// check may allocate for slices and pointers; a larger one is decoded
// after it.
const predecodeBudget = 64 << 10

// predecode returns a predecoded for m, writing into args from
// m.firstParam on, or nil when args has no room for m's parameters.
func predecode(m *method, args []reflect.Value) predecoded {
	if m == nil || m.file != nil || m.firstParam+len(m.params) > min(len(args), 8) {
		return predecoded{}
	}
	return predecoded{m: m, vals: args[m.firstParam : m.firstParam+len(m.params)]}
}

// decode decodes the element at s's offset, parameter i of pre.m, if its
// compiled check can, and reports whether it did; s is left where it was if
// not. Decoded before the caller is known to be allowed: a small body must
// not make the server allocate much more than itself.
func (pre *predecoded) decode(s *jsoncheck.Scanner, i int) bool {
	if pre == nil || i >= len(pre.vals) {
		return false
	}
	c := pre.m.params[i].check
	if c == nil {
		return false
	}
	v, ok := c.DecodeAt(s, predecodeBudget)
	if !ok {
		return false
	}
	pre.vals[i], pre.done = v, pre.done|1<<i
	return true
}

// value returns parameter i, if pre holds it.
func (pre *predecoded) value(i int) (reflect.Value, bool) {
	if pre == nil || i >= len(pre.vals) || pre.done&(1<<i) == 0 {
		return reflect.Value{}, false
	}
	return pre.vals[i], true
}
