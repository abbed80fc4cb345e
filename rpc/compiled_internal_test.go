package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"
)

// Parameter types whose reflected schemas the compiled check must cover:
// flat, nested, optional fields, arrays, maps, enums, formats, pointers.
type (
	ccFlat struct {
		Name  string `json:"name" jsonschema:"minLength=1,maxLength=64"`
		Count int    `json:"count" jsonschema:"minimum=0,maximum=1000"`
	}
	ccItem struct {
		SKU string `json:"sku" jsonschema:"pattern=^[A-Z]+-[0-9]+$"`
		Qty int8   `json:"qty" jsonschema:"minimum=1,exclusiveMaximum=100"`
	}
	ccNested struct {
		Customer struct {
			Name  string  `json:"name" jsonschema:"minLength=1,maxLength=8"`
			Email string  `json:"email,omitempty" jsonschema:"format=email"`
			Score float64 `json:"score,omitempty" jsonschema:"minimum=0.1,exclusiveMaximum=9.5"`
		} `json:"customer"`
		Items []ccItem `json:"items" jsonschema:"minItems=1,maxItems=3"`
		Note  *string  `json:"note,omitempty" jsonschema:"maxLength=5"`
	}
	ccKinds struct {
		Kind   string            `json:"kind" jsonschema:"enum=a,enum=bé,enum=c"`
		Level  int               `json:"level,omitempty" jsonschema:"enum=1,enum=2,enum=30"`
		Perms  map[string]bool   `json:"perms,omitempty"`
		Limits map[string]uint16 `json:"limits,omitempty"`
		At     time.Time         `json:"at,omitempty"`
		Ptr    *ccItem           `json:"ptr,omitempty"`
		Tags   []string          `json:"tags,omitempty" jsonschema:"maxItems=2"`
		Any    any               `json:"any,omitempty"`
		Raw    json.RawMessage   `json:"raw,omitempty"`
		Ratio  float32           `json:"ratio,omitempty" jsonschema:"exclusiveMinimum=-1,maximum=1e30"`
		Flag   *bool             `json:"flag,omitempty"`
	}
)

var checkTypes = []reflect.Type{
	reflect.TypeFor[ccFlat](),
	reflect.TypeFor[ccNested](),
	reflect.TypeFor[ccKinds](),
	reflect.TypeFor[[]ccFlat](),
	reflect.TypeFor[map[string]ccItem](),
	reflect.TypeFor[map[string]*int](),
	reflect.TypeFor[[3]float64](),
}

// checkParams compiles a parameter of each of checkTypes, and a copy of
// each without its compiled check.
func checkParams(tb testing.TB) (compiled, full []*param) {
	r := New(Options{})
	for _, t := range checkTypes {
		p, err := r.compileParam(0, Param{Name: "p"}, t)
		if err != nil {
			tb.Fatal(err)
		}
		if p.check == nil {
			tb.Fatalf("%s: no compiled check for its reflected schema", t)
		}
		slow := *p
		slow.check = nil
		compiled, full = append(compiled, p), append(full, &slow)
	}
	return compiled, full
}

var checkSeeds = []string{
	`{"name":"world","count":3}`, `{"name":"","count":3}`, `{"name":"w","count":1001}`, `{"name":"w"}`,
	`{"name":"w","count":3,"x":1}`, `{"name":"w","count":3.0}`, `{"name":"w","count":1e2}`, `{"name":"w","count":null}`,
	`{"name":"w","name":"v","count":1}`, `{"n\u0061me":"w","count":1}`, `{"Name":"w","count":1}`, `{"name":"\u00e9","count":-0}`,
	`{"customer":{"name":"Ada"},"items":[{"sku":"AB-1","qty":2}]}`,
	`{"customer":{"name":"Ada","email":"ada@example.com","score":0.1},"items":[{"sku":"AB-1","qty":99}],"note":"hi"}`,
	`{"customer":{"name":"Ada","email":"not an email"},"items":[{"sku":"AB-1","qty":2}]}`,
	`{"customer":{"name":"Ada","score":9.5},"items":[{"sku":"ab-1","qty":100}]}`,
	`{"customer":{"name":"Ada","score":0.09999999999999999999},"items":[]}`, `{"customer":{"name":"Ada"},"items":[{"sku":"A-1","qty":300}]}`,
	`{"kind":"a"}`, `{"kind":"bé","level":30,"perms":{"x":true,"y":false},"limits":{"a":65535}}`, `{"kind":"d"}`, `{"kind":"a","level":3}`,
	`{"kind":"c","at":"2024-01-02T03:04:05Z","ptr":{"sku":"Q-1","qty":1},"tags":["a","b"],"any":[1,{"x":null}],"raw":{"y":"z"}}`,
	`{"kind":"c","at":"yesterday"}`, `{"kind":"c","limits":{"a":65536}}`, `{"kind":"c","ratio":-1}`, `{"kind":"c","ratio":1e30}`,
	`{"kind":"c","flag":null}`, `{"kind":"c","tags":["a","b","c"]}`, `{"kind":"c","ptr":null}`,
	`[{"name":"a","count":0}]`, `[]`, `{"a":{"sku":"X-9","qty":5}}`, `{"a":{"sku":"X-9"}}`, `5`, `-9223372036854775809`, `"5"`,
	`[1,2,3]`, `[1,2]`, `{"customer":{"name":"Ada"},"items":[{"sku":"A-1","qty":-129}]}`, `{"customer":{"name":"Ada"},"items":[{"SKU":"A-1","qty":1}]}`,
	`{"customer":{"name":"A\u0064a","score":1e0},"items":[{"sku":"A-1","qty":1}],"note":"\u00e9"}`, `[{"name":"a","count":0},{"name":"b"}]`, `{"customer":{},"items":[]}`, `[1e308,-1e308,0.5]`, `[1e309,0,0]`, ` {"name" : "w" , "count" : 7 } `, `{"name":"w\ud800","count":1}`,
}

// FuzzCompiledCheck holds the compiled check to the full validator over
// representative schemas: it never accepts what the validator refuses, and
// a parameter decodes the same, to the same value or the same message,
// with the check and without it, and when decoded as the body is split.
func FuzzCompiledCheck(f *testing.F) {
	for _, s := range checkSeeds {
		for i := range checkTypes {
			f.Add(uint8(i), s)
		}
	}
	compiled, full := checkParams(f)
	f.Fuzz(func(t *testing.T, which uint8, value string) {
		i := int(which) % len(compiled)
		raw := []byte(value)
		if compiled[i].check.accepts(raw) {
			doc, err := sjs.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("%s %s: compiled check accepts what does not parse: %v", checkTypes[i], value, err)
			}
			if err := compiled[i].validator.Validate(doc); err != nil {
				t.Fatalf("%s %s: compiled check accepts what the validator refuses: %v", checkTypes[i], value, err)
			}
		}
		if !json.Valid(raw) {
			return // the request decoder refuses it before any parameter is decoded
		}
		got, gotErr := compiled[i].decode(raw)
		want, wantErr := full[i].decode(raw)
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Message != wantErr.Message {
			t.Fatalf("%s %s: with the check %v, without %v", checkTypes[i], value, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Fatalf("%s %s: with the check %#v, without %#v", checkTypes[i], value, got, want)
		}
		m := &method{params: []*param{compiled[i]}, firstParam: 1}
		args := make([]reflect.Value, 2)
		pre := &predecoded{m: m, vals: args[1:]}
		in, e := parseBodyInto([]byte("["+value+"]"), nil, pre)
		if e != nil || len(in.raws) != 1 {
			return // a value such as 1,2 is two parameters
		}
		if preErr := m.decodeParams(in.raws, args, pre); (preErr == nil) != (wantErr == nil) || preErr != nil && preErr.Message != wantErr.Message {
			t.Fatalf("%s %s: split and decoded %v, without the check %v", checkTypes[i], value, preErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(args[1].Interface(), want.Interface()) {
			t.Fatalf("%s %s: split and decoded %#v, without the check %#v", checkTypes[i], value, args[1], want)
		}
	})
}

// TestCompiledCheckAccepts checks that plain valid values take the fast
// path, so that the benchmarks measure it.
func TestCompiledCheckAccepts(t *testing.T) {
	compiled, _ := checkParams(t)
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
		if !compiled[c.i].check.accepts([]byte(c.value)) {
			t.Errorf("%s %s: refused by the compiled check", checkTypes[c.i], c.value)
		}
		if err := compiled[c.i].validate([]byte(c.value)); err != nil {
			t.Errorf("%s %s: refused by the validator: %v", checkTypes[c.i], c.value, err)
		}
	}
}

// TestCompiledDecoderCovers checks which reflected types decode in the
// check's own pass, and that a valid value takes that path, so that the
// benchmarks measure it.
func TestCompiledDecoderCovers(t *testing.T) {
	compiled, _ := checkParams(t)
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
		dec := compiled[c.i].check.dec
		if (dec != nil) != (c.value != "") {
			t.Errorf("%s: decoder %v, want one: %v", checkTypes[c.i], dec != nil, c.value != "")
			continue
		}
		if dec == nil {
			continue
		}
		got, ok := compiled[c.i].check.decode([]byte(c.value))
		if !ok {
			t.Errorf("%s %s: the decoder gave up", checkTypes[c.i], c.value)
			continue
		}
		want := reflect.New(checkTypes[c.i])
		if err := json.Unmarshal([]byte(c.value), want.Interface()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Interface(), want.Elem().Interface()) {
			t.Errorf("%s %s: decoded %#v, json.Unmarshal %#v", checkTypes[c.i], c.value, got, want.Elem())
		}
	}
}

// TestRefusalMessageStable checks that a value breaking several rules gets
// the same message every time: the validator meets an object's properties
// in no fixed order, and the message lists them sorted.
func TestRefusalMessageStable(t *testing.T) {
	compiled, _ := checkParams(t)
	const want = `parameter 1 "p": at /count: must be at most 1000, got 2000; at /name: must be at least 1 characters long, got 0; unknown properties not allowed: "a", "b", "c", and 1 more`
	for range 20 {
		_, err := compiled[0].decode([]byte(`{"name":"","count":2000,"d":1,"c":1,"b":1,"a":1}`))
		if err == nil || err.Message != want {
			t.Fatalf("got %v, want %s", err, want)
		}
	}
}

// TestPredecoded checks that the parameters decoded as a body is split are
// those decodeParams gives from the raw elements.
func TestPredecoded(t *testing.T) {
	r := New(Options{})
	r.Register(Method{
		ID: "/v1/p", Title: "P", Permissions: []string{"*"},
		Params:  []Param{{Name: "flat"}, {Name: "list?"}, {Name: "name?"}},
		Handler: func(ctx context.Context, f ccFlat, l []ccFlat, name string) error { return nil },
	})
	m := r.lookup("/v1/p")
	for _, c := range []struct {
		body string
		done uint8
	}{
		{`[{"name":"a","count":1},[{"name":"b","count":2}],"c"]`, 0b011},
		{`[{"name":"a","count":1001},[{"name":"b","count":2}]]`, 0b010},
		{`[ {"count":0 , "name":"é"} , null ]`, 0b001},
		{`[{"name":"a","count":1,"x":2}]`, 0},
	} {
		got := make([]reflect.Value, m.firstParam+len(m.params))
		pre := &predecoded{m: m, vals: got[m.firstParam:]}
		in, e := parseBodyInto([]byte(c.body), nil, pre)
		if e != nil {
			t.Fatalf("%s: %v", c.body, e)
		}
		if pre.done != c.done {
			t.Errorf("%s: decoded %03b, want %03b", c.body, pre.done, c.done)
		}
		want := make([]reflect.Value, len(got))
		errGot, errWant := m.decodeParams(in.raws, got, pre), m.decodeParams(in.raws, want, nil)
		if (errGot == nil) != (errWant == nil) || errGot != nil && errGot.Message != errWant.Message {
			t.Fatalf("%s: %v, without predecoding %v", c.body, errGot, errWant)
		}
		for i := m.firstParam; errGot == nil && i < len(got); i++ {
			if !reflect.DeepEqual(got[i].Interface(), want[i].Interface()) {
				t.Errorf("%s: parameter %d %#v, without predecoding %#v", c.body, i, got[i], want[i])
			}
		}
	}
}

// TestPredecodedBudget checks that a parameter decoded before the
// permission check cannot make the server allocate much more than the
// body: a long array of small objects is left for after it.
func TestPredecodedBudget(t *testing.T) {
	type big struct {
		Pad [512]byte `json:"-"`
		N   int       `json:"n"`
	}
	r := New(Options{})
	r.Register(Method{
		ID: "/v1/b", Title: "B", Permissions: []string{"*"},
		Params:  []Param{{Name: "list"}},
		Handler: func(ctx context.Context, l []big) error { return nil },
	})
	m := r.lookup("/v1/b")
	for n, want := range map[int]uint8{10: 1, 1000: 0} {
		body := "[[" + strings.Repeat(`{"n":1},`, n-1) + `{"n":1}]]`
		got := make([]reflect.Value, m.firstParam+len(m.params))
		pre := &predecoded{m: m, vals: got[m.firstParam:]}
		if _, e := parseBodyInto([]byte(body), nil, pre); e != nil {
			t.Fatal(e)
		}
		if pre.done != want {
			t.Errorf("%d items: decoded %b, want %b", n, pre.done, want)
		}
	}
}
