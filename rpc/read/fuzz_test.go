package read_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authrpc/authrpc/rpc/read"
)

// FuzzParse checks that no input makes Parse panic, that every refusal is a
// short *read.Error, and that what Parse accepts is within the spec: declared
// fields and operators, values of the declared types, limits kept.
func FuzzParse(f *testing.F) {
	for _, tc := range slices.Concat(goodCases(), badCases()) {
		if len(tc.raw) <= 2000 {
			f.Add([]byte(tc.raw))
		}
	}
	f.Add([]byte(`{"where":{"search":["like","\\%_'\""],"created":["<","2024-02-29T23:59:60Z"]},"order_by":[["email","DeSc"],"id"]}`))
	f.Add([]byte(`{"where":{"email":["not in",["a'b","c\"d","e\\f"]],"ratio":[">",-1.5e-300]}}`))
	f.Add([]byte(`{"where":{"score":["in",[-9223372036854775808,9223372036854775807]]}}`))

	spec := itemsSpec()
	if err := spec.Check(); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := spec.Parse(json.RawMessage(raw))
		if err != nil {
			var e *read.Error
			if !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("error %#v is not a *read.Error with a message", err)
			}
			if len(e.Message) > 400 {
				t.Fatalf("message of %d bytes: %q", len(e.Message), e.Message)
			}
			return
		}
		checkOptions(t, spec, o)
	})
}

func checkOptions(t *testing.T, spec *read.Spec, o read.Options) {
	t.Helper()
	fields := map[string]read.Field{}
	for _, f := range spec.Fields {
		fields[f.Name] = f
	}
	seen := map[string]bool{}
	for _, c := range o.Where {
		f, ok := fields[c.Field]
		if !ok || !slices.Contains(f.Conditions, c.Op) {
			t.Fatalf("condition %+v is not declared", c)
		}
		if seen[c.Field] {
			t.Fatalf("field %q filtered twice", c.Field)
		}
		seen[c.Field] = true
		switch c.Op {
		case "in", "not in":
			list, ok := c.Value.([]any)
			if !ok || len(list) == 0 || len(list) > 100 {
				t.Fatalf("condition %+v: bad list", c)
			}
			for _, v := range list {
				checkValue(t, f, c, v)
			}
		default:
			if c.Value == nil && c.Op != "=" && c.Op != "!=" {
				t.Fatalf("condition %+v: null with %s", c, c.Op)
			}
			if c.Value != nil {
				checkValue(t, f, c, c.Value)
			}
		}
	}
	for _, f := range spec.Fields {
		if f.Required && !seen[f.Name] {
			t.Fatalf("required field %q missing", f.Name)
		}
	}
	ordered := map[string]bool{}
	for _, ord := range o.OrderBy {
		if f, ok := fields[ord.Field]; !ok || !f.Sortable || ordered[ord.Field] {
			t.Fatalf("order %+v is not a sortable field, or is listed twice", ord)
		}
		ordered[ord.Field] = true
	}
	if o.Limit < 1 || o.Limit > spec.MaxLimit {
		t.Fatalf("limit %d outside 1..%d", o.Limit, spec.MaxLimit)
	}
	if o.Offset < 0 || o.Offset > 1_000_000_000 {
		t.Fatalf("offset %d", o.Offset)
	}
}

func checkValue(t *testing.T, f read.Field, c read.Condition, v any) {
	t.Helper()
	ok := false
	switch f.Type {
	case "", read.String:
		s, isString := v.(string)
		ok = isString && len(s) <= 4096 && !strings.ContainsRune(s, 0)
	case read.Integer:
		_, ok = v.(int64)
	case read.ID:
		n, isInt := v.(int64)
		ok = isInt && n >= 0
	case read.Number:
		_, ok = v.(float64)
	case read.Boolean:
		_, ok = v.(bool)
	case read.Time:
		tm, isTime := v.(time.Time)
		ok = isTime && tm.Location() == time.UTC
	}
	if !ok {
		t.Fatalf("condition %+v: value %#v (%T) does not fit type %q", c, v, v, f.Type)
	}
}
