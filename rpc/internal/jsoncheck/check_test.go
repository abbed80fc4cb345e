package jsoncheck_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/authrpc/authrpc/rpc/internal/jsoncheck"
	"github.com/authrpc/authrpc/rpc/internal/jsoncheck/checkcases"
)

// compiled is a Check of each of checkcases.Types and its full validator.
type compiled struct {
	check     *jsoncheck.Check
	validator *sjs.Schema
}

func compileCases(tb testing.TB) []compiled {
	tb.Helper()
	var out []compiled
	for _, t := range checkcases.Types {
		schema := checkcases.Schema(tb, t)
		c := jsoncheck.Compile(schema, t)
		if c == nil {
			tb.Fatalf("%s: no compiled check for its reflected schema", t)
		}
		out = append(out, compiled{c, checkcases.Validator(tb, schema)})
	}
	return out
}

// FuzzCheck holds a compiled check to the full validator over
// representative schemas: it never accepts what the validator refuses, and
// what it decodes is what json.Unmarshal gives.
func FuzzCheck(f *testing.F) {
	for _, s := range checkcases.Seeds {
		for i := range checkcases.Types {
			f.Add(uint8(i), s)
		}
	}
	cases := compileCases(f)
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		i := int(which) % len(cases)
		c, typ, raw := cases[i], checkcases.Types[i], []byte(value)
		accepted := c.check.Accepts(raw)
		got, decoded := c.check.Decode(raw)
		if !accepted && !decoded {
			return
		}
		doc, err := sjs.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s %s: accepted %v, decoded %v, what does not parse: %v", typ, value, accepted, decoded, err)
		}
		if err := c.validator.Validate(doc); err != nil {
			t.Fatalf("%s %s: accepted %v, decoded %v, what the validator refuses: %v", typ, value, accepted, decoded, err)
		}
		if !decoded {
			return
		}
		want := reflect.New(typ)
		if err := json.Unmarshal(raw, want.Interface()); err != nil {
			t.Fatalf("%s %s: decoded what json.Unmarshal refuses: %v", typ, value, err)
		}
		if !reflect.DeepEqual(got.Interface(), want.Elem().Interface()) {
			t.Fatalf("%s %s: decoded %#v, json.Unmarshal %#v", typ, value, got, want.Elem())
		}
	})
}

// TestAccepts checks that plain valid values take the fast path, so that
// the benchmarks measure it.
func TestAccepts(t *testing.T) {
	t.Parallel()
	cases := compileCases(t)
	for _, c := range []struct {
		i     int
		value string
	}{
		{0, `{"name":"world","count":3}`},
		{0, ` {"count" : 0 , "name" : "é"} `},
		{1, `{"customer":{"name":"Ada","email":"ada@example.com","score":0.1},"items":[{"sku":"AB-1","qty":99}],"note":"hi"}`},
		{2, `{"kind":"c","at":"2024-01-02T03:04:05Z","ptr":{"sku":"Q-1","qty":1},"tags":["a","b"],"any":[1,{"x":null}],"raw":{"y":"z"},"flag":true}`},
		{2, `{"kind":"bé","level":30,"perms":{"x":true,"y":false},"limits":{"a":65535},"ratio":1e30}`},
		{3, `[{"name":"a","count":0},{"name":"b","count":1000}]`},
		{4, `{"a":{"sku":"X-9","qty":5},"b":{"sku":"Y-1","qty":1}}`},
		{5, `{"a":-42,"b":0}`},
		{6, `[1e308,-1e308,0.5]`},
	} {
		typ := checkcases.Types[c.i]
		if !cases[c.i].check.Accepts([]byte(c.value)) {
			t.Errorf("%s %s: refused by the compiled check", typ, c.value)
		}
		doc, err := sjs.UnmarshalJSON(bytes.NewReader([]byte(c.value)))
		if err == nil {
			err = cases[c.i].validator.Validate(doc)
		}
		if err != nil {
			t.Errorf("%s %s: refused by the validator: %v", typ, c.value, err)
		}
	}
}

// TestDecoderCovers checks which reflected types decode in the check's own
// pass, and that a valid value takes that path, so that the benchmarks
// measure it.
func TestDecoderCovers(t *testing.T) {
	t.Parallel()
	cases := compileCases(t)
	for _, c := range []struct {
		i     int
		value string // "" for a type the decoder does not cover
	}{
		{0, `{"name":"world","count":3}`},
		{1, `{"customer":{"name":"Ada","email":"ada@example.com","score":0.1},"items":[{"sku":"AB-1","qty":99}],"note":"hi"}`},
		{2, ""}, // time.Time unmarshals itself; maps and any are not covered
		{3, `[{"name":"a","count":0},{"name":"b","count":1000}]`},
		{4, ""},
		{5, ""},
		{6, ""},
	} {
		typ, check := checkcases.Types[c.i], cases[c.i].check
		if check.Decodes() != (c.value != "") {
			t.Errorf("%s: decodes %v, want %v", typ, check.Decodes(), c.value != "")
			continue
		}
		if !check.Decodes() {
			continue
		}
		got, ok := check.Decode([]byte(c.value))
		if !ok {
			t.Errorf("%s %s: the decoder gave up", typ, c.value)
			continue
		}
		want := reflect.New(typ)
		if err := json.Unmarshal([]byte(c.value), want.Interface()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Interface(), want.Elem().Interface()) {
			t.Errorf("%s %s: decoded %#v, json.Unmarshal %#v", typ, c.value, got, want.Elem())
		}
	}
}

// TestDecodeAt checks that a value decoded in place, as an item of a
// document, leaves the scanner past it, and where it was when it is not
// decoded: within the budget, and a value the check refuses.
func TestDecodeAt(t *testing.T) {
	t.Parallel()
	c := compileCases(t)[3].check // []Flat
	for _, tc := range []struct {
		doc    string
		budget int
		ok     bool
	}{
		{`[[{"name":"a","count":1}],2]`, 1 << 10, true},
		{`[[{"name":"a","count":1}],2]`, 8, false},          // the slice does not fit
		{`[[{"name":"a","count":1001}],2]`, 1 << 10, false}, // refused
	} {
		s := jsoncheck.NewScanner([]byte(tc.doc))
		if s.Peek() != '[' {
			t.Fatal("no array")
		}
		s.Advance()
		s.Space()
		start := s.Offset()
		v, ok := c.DecodeAt(&s, tc.budget)
		if ok != tc.ok {
			t.Errorf("%s (budget %d): decoded %v, want %v", tc.doc, tc.budget, ok, tc.ok)
			continue
		}
		if !ok {
			if s.Offset() != start {
				t.Errorf("%s: left at %d, want %d", tc.doc, s.Offset(), start)
			}
			continue
		}
		if s.Peek() != ',' || v.Len() != 1 {
			t.Errorf("%s: decoded %#v, left at %q", tc.doc, v, tc.doc[s.Offset():])
		}
	}
}
