package rpc_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authrpc/authrpc/rpc"
)

// FuzzReadOptions checks that no input makes Parse or Apply panic, that what
// Parse accepts is within the spec, and that the SQL built from it names only
// the spec's columns: the request's text appears in string literals alone.
func FuzzReadOptions(f *testing.F) {
	for _, tc := range slices.Concat(readGoodCases(), readBadCases()) {
		if len(tc.raw) <= 2000 {
			f.Add([]byte(tc.raw))
		}
	}
	f.Add([]byte(`{"where":{"search":["like","\\%_'\""],"created":["<","2024-02-29T23:59:60Z"]},"order_by":[["email","DeSc"],"id"]}`))
	f.Add([]byte(`{"where":{"email":["not in",["a'b","c\"d","e\\f"]],"ratio":[">",-1.5e-300]}}`))
	f.Add([]byte(`{"where":{"score":["in",[-9223372036854775808,9223372036854775807]]}}`))

	spec := readItemsSpec()
	if err := spec.Check(); err != nil {
		f.Fatal(err)
	}
	db := readOfflineDB(f)

	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := spec.Parse(json.RawMessage(raw))
		if err != nil {
			var e *rpc.Error
			if !errors.As(err, &e) || e.Code != rpc.CodeInvalidParams || e.Message == "" {
				t.Fatalf("error %#v is not an InvalidParams *rpc.Error", err)
			}
			if len(e.Message) > 400 {
				t.Fatalf("message of %d bytes: %q", len(e.Message), e.Message)
			}
			return
		}
		readCheckOptions(t, spec, o)

		query := o.Apply(db.NewSelect().Table("items")).String()
		readCheckSQL(t, spec, query)
		count := o.ApplyWhere(db.NewSelect().Table("items")).String()
		readCheckSQL(t, spec, count)
	})
}

func readCheckOptions(t *testing.T, spec *rpc.ReadSpec, o rpc.ReadOptions) {
	t.Helper()
	fields := map[string]rpc.ReadField{}
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
				readCheckValue(t, f, c, v)
			}
		default:
			if c.Value == nil && c.Op != "=" && c.Op != "!=" {
				t.Fatalf("condition %+v: null with %s", c, c.Op)
			}
			if c.Value != nil {
				readCheckValue(t, f, c, c.Value)
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

func readCheckValue(t *testing.T, f rpc.ReadField, c rpc.ReadCondition, v any) {
	t.Helper()
	ok := false
	switch f.Type {
	case "", rpc.ReadString:
		s, isString := v.(string)
		ok = isString && len(s) <= 4096 && !strings.ContainsRune(s, 0)
	case rpc.ReadInteger:
		_, ok = v.(int64)
	case rpc.ReadID:
		n, isInt := v.(int64)
		ok = isInt && n >= 0
	case rpc.ReadNumber:
		_, ok = v.(float64)
	case rpc.ReadBoolean:
		_, ok = v.(bool)
	case rpc.ReadTime:
		tm, isTime := v.(time.Time)
		ok = isTime && tm.Location() == time.UTC
	}
	if !ok {
		t.Fatalf("condition %+v: value %#v (%T) does not fit type %q", c, v, v, f.Type)
	}
}

var readSQLKeywords = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "IS": true,
	"NOT": true, "NULL": true, "IN": true, "LIKE": true, "ESCAPE": true, "ORDER": true,
	"BY": true, "ASC": true, "DESC": true, "NULLS": true, "FIRST": true, "LAST": true,
	"LIMIT": true, "OFFSET": true, "TRUE": true, "FALSE": true,
}

// readCheckSQL lexes query and fails on any identifier that is not the table
// or a column of the spec, and on any bare word that is not a keyword the
// options produce: request text may only be inside string literals.
func readCheckSQL(t *testing.T, spec *rpc.ReadSpec, query string) {
	t.Helper()
	idents := map[string]bool{"items": true}
	for _, f := range spec.Fields {
		for _, c := range append([]string{f.Name, f.Column}, f.Columns...) {
			for part := range strings.SplitSeq(c, ".") {
				idents[part] = true
			}
		}
	}
	fail := func(what string, i int) {
		t.Fatalf("%s at %d in %s", what, i, query)
	}
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == ' ':
			i++
		case c == '\'' || c == '"':
			// A literal or a quoted identifier; the quote is doubled inside.
			j := i + 1
			var text strings.Builder
			for {
				k := strings.IndexByte(query[j:], c)
				if k < 0 {
					fail("unterminated quote", i)
				}
				text.WriteString(query[j : j+k])
				j += k + 1
				if j < len(query) && query[j] == c {
					text.WriteByte(c)
					j++
					continue
				}
				break
			}
			if c == '"' && !idents[text.String()] {
				fail("identifier "+text.String()+" not from the spec", i)
			}
			i = j
		case c >= 'A' && c <= 'Z':
			j := i
			for j < len(query) && query[j] >= 'A' && query[j] <= 'Z' {
				j++
			}
			if !readSQLKeywords[query[i:j]] {
				fail("word "+query[i:j], i)
			}
			i = j
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(query) && query[i+1] >= '0' && query[i+1] <= '9':
			j := i + 1
			for j < len(query) && strings.IndexByte("0123456789.e+-", query[j]) >= 0 {
				j++
			}
			i = j
		case strings.IndexByte("(),.*=<>!", c) >= 0:
			i++
		default:
			fail("unexpected character "+string(c), i)
		}
	}
}
