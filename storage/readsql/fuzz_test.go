package readsql_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/authrpc/authrpc/rpc/read"
	"github.com/authrpc/authrpc/storage/readsql"
)

// FuzzReadOptions checks that no options Parse accepts make Apply or
// ApplyWhere panic, and that the SQL they build names only the spec's
// columns: the request's text appears in string literals alone.
func FuzzReadOptions(f *testing.F) {
	for _, tc := range applyCases() {
		f.Add([]byte(tc.raw))
	}
	f.Add([]byte(`{"where":{"search":["like","\\%_'\""],"created":["<","2024-02-29T23:59:60Z"]},"order_by":[["email","DeSc"],"id"]}`))
	f.Add([]byte(`{"where":{"email":["not in",["a'b","c\"d","e\\f"]],"ratio":[">",-1.5e-300]}}`))
	f.Add([]byte(`{"where":{"score":["in",[-9223372036854775808,9223372036854775807]]}}`))
	f.Add([]byte(`{"where":{"title":["like","x"],"search":["like","y"],"id":["not in",["1"]],"name":["!=",null]},"order_by":[["email","desc"],"id"],"limit":3,"offset":4}`))

	spec := itemsSpec()
	if err := spec.Check(); err != nil {
		f.Fatal(err)
	}
	db := offlineDB(f)

	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := spec.Parse(json.RawMessage(raw))
		if err != nil {
			return // package read's FuzzParse checks refusals
		}
		checkSQL(t, spec, readsql.Apply(db.NewSelect().Table("items"), o).String())
		checkSQL(t, spec, readsql.ApplyWhere(db.NewSelect().Table("items"), o).String())
	})
}

var sqlKeywords = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "IS": true,
	"NOT": true, "NULL": true, "IN": true, "LIKE": true, "ESCAPE": true, "ORDER": true,
	"BY": true, "ASC": true, "DESC": true, "NULLS": true, "FIRST": true, "LAST": true,
	"LIMIT": true, "OFFSET": true, "TRUE": true, "FALSE": true,
}

// checkSQL lexes query and fails on any identifier that is not the table
// or a column of the spec, and on any bare word that is not a keyword the
// options produce: request text may only be inside string literals.
func checkSQL(t *testing.T, spec *read.Spec, query string) {
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
			if !sqlKeywords[query[i:j]] {
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
