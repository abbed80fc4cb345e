// Package checkcases holds the schemas and values that the compiled
// checks are tested and fuzzed with, in package jsoncheck and in package
// rpc, which uses them for its parameters.
package checkcases

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/invopop/jsonschema"
	sjs "github.com/santhosh-tekuri/jsonschema/v6"
)

// Types whose reflected schemas a compiled check must cover: flat, nested,
// optional fields, arrays, maps, enums, formats, pointers.
type (
	Flat struct {
		Name  string `json:"name" jsonschema:"minLength=1,maxLength=64"`
		Count int    `json:"count" jsonschema:"minimum=0,maximum=1000"`
	}
	Item struct {
		SKU string `json:"sku" jsonschema:"pattern=^[A-Z]+-[0-9]+$"`
		Qty int8   `json:"qty" jsonschema:"minimum=1,exclusiveMaximum=100"`
	}
	Nested struct {
		Customer struct {
			Name  string  `json:"name" jsonschema:"minLength=1,maxLength=8"`
			Email string  `json:"email,omitempty" jsonschema:"format=email"`
			Score float64 `json:"score,omitempty" jsonschema:"minimum=0.1,exclusiveMaximum=9.5"`
		} `json:"customer"`
		Items []Item  `json:"items" jsonschema:"minItems=1,maxItems=3"`
		Note  *string `json:"note,omitempty" jsonschema:"maxLength=5"`
	}
	Kinds struct {
		Kind   string            `json:"kind" jsonschema:"enum=a,enum=bé,enum=c"`
		Level  int               `json:"level,omitempty" jsonschema:"enum=1,enum=2,enum=30"`
		Perms  map[string]bool   `json:"perms,omitempty"`
		Limits map[string]uint16 `json:"limits,omitempty"`
		At     time.Time         `json:"at,omitempty"`
		Ptr    *Item             `json:"ptr,omitempty"`
		Tags   []string          `json:"tags,omitempty" jsonschema:"maxItems=2"`
		Any    any               `json:"any,omitempty"`
		Raw    json.RawMessage   `json:"raw,omitempty"`
		Ratio  float32           `json:"ratio,omitempty" jsonschema:"exclusiveMinimum=-1,maximum=1e30"`
		Flag   *bool             `json:"flag,omitempty"`
	}
)

// Types lists them, with a few that are not structs.
var Types = []reflect.Type{
	reflect.TypeFor[Flat](),
	reflect.TypeFor[Nested](),
	reflect.TypeFor[Kinds](),
	reflect.TypeFor[[]Flat](),
	reflect.TypeFor[map[string]Item](),
	reflect.TypeFor[map[string]*int](),
	reflect.TypeFor[[3]float64](),
}

// Seeds are values of the Types, valid and not, tried on each of them.
var Seeds = []string{
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

// Schema reflects t's JSON Schema as package rpc reflects a parameter's.
func Schema(tb testing.TB, t reflect.Type) []byte {
	tb.Helper()
	r := &jsonschema.Reflector{DoNotReference: true, ExpandedStruct: true, Anonymous: true}
	s := r.ReflectFromType(t)
	s.Version, s.ID = "", ""
	b, err := json.Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Validator compiles schema with the full validator, as package rpc does.
func Validator(tb testing.TB, schema []byte) *sjs.Schema {
	tb.Helper()
	doc, err := sjs.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		tb.Fatal(err)
	}
	c := sjs.NewCompiler()
	c.DefaultDraft(sjs.Draft2020)
	c.AssertFormat()
	const url = "mem:///param.json"
	if err := c.AddResource(url, doc); err != nil {
		tb.Fatal(err)
	}
	v, err := c.Compile(url)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}
