package rpc_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// readItemsSpec declares the fields of the items table the tests query.
func readItemsSpec() *rpc.ReadSpec {
	return &rpc.ReadSpec{
		Fields: []rpc.ReadField{
			{Name: "id", Type: rpc.ReadID, Conditions: []string{"=", "!=", "<", ">", "<=", ">=", "in", "not in"}, Sortable: true},
			{Name: "name", Conditions: []string{"=", "!=", "like", "in"}, Sortable: true},
			{Name: "email", Conditions: []string{"=", "!=", "like", "not in"}, Sortable: true},
			{Name: "search", Columns: []string{"name", "email"}, Conditions: []string{"like"}},
			{Name: "created", Type: rpc.ReadTime, Conditions: []string{"=", "<", ">="}, Sortable: true},
			{Name: "enabled", Type: rpc.ReadBoolean, Conditions: []string{"="}, Sortable: true},
			{Name: "score", Type: rpc.ReadInteger, Conditions: []string{"=", "<", ">", "in"}, Sortable: true},
			{Name: "ratio", Type: rpc.ReadNumber, Conditions: []string{">", "<="}},
			{Name: "title", Column: "name", Conditions: []string{"like"}},
		},
		MaxLimit:     5,
		DefaultOrder: []rpc.ReadOrder{{Field: "id"}},
	}
}

// The seed's two read methods.
func readUsersSpec() *rpc.ReadSpec {
	return &rpc.ReadSpec{
		Fields: []rpc.ReadField{
			{Name: "id", Type: rpc.ReadID, Conditions: []string{"="}, Sortable: true},
			{Name: "search", Columns: []string{"name", "email", "telegram_name"}, Conditions: []string{"like"}},
			{Name: "name", Sortable: true},
			{Name: "created", Type: rpc.ReadTime, Sortable: true},
			{Name: "enabled", Type: rpc.ReadBoolean, Sortable: true},
		},
		DefaultOrder: []rpc.ReadOrder{{Field: "id"}},
	}
}

func readCallLogSpec() *rpc.ReadSpec {
	return &rpc.ReadSpec{
		Fields: []rpc.ReadField{
			{Name: "method_id", Conditions: []string{"="}, Required: true},
			{Name: "id", Type: rpc.ReadID, Sortable: true},
		},
		DefaultOrder: []rpc.ReadOrder{{Field: "id", Desc: true}},
	}
}

func readRequireInvalid(t *testing.T, err error, wants ...string) {
	t.Helper()
	require.Error(t, err)
	var e *rpc.Error
	require.True(t, errors.As(err, &e), "want *rpc.Error, got %T", err)
	assert.Equal(t, rpc.CodeInvalidParams, e.Code)
	for _, w := range wants {
		assert.Contains(t, e.Message, w)
	}
}

func readTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestReadSpecCheck(t *testing.T) {
	for _, spec := range []*rpc.ReadSpec{readItemsSpec(), readUsersSpec(), readCallLogSpec(), {}} {
		require.NoError(t, spec.Check())
	}
	require.NoError(t, (&rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "n", Column: "u.name", Conditions: []string{"="}}}}).Check())

	bad := []struct {
		name string
		spec rpc.ReadSpec
		want string
	}{
		{"empty name", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: ""}}}, "plain identifier"},
		{"name with quote", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: `a"b`}}}, "plain identifier"},
		{"name with digit first", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "1a"}}}, "plain identifier"},
		{"column injection", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a", Column: "a; DROP TABLE x"}}}, "not a plain identifier"},
		{"column three parts", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a", Column: "s.t.c"}}}, "not a plain identifier"},
		{"columns injection", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a", Columns: []string{"b", "c)"}, Conditions: []string{"like"}}}}, "not a plain identifier"},
		{"column and columns", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a", Column: "b", Columns: []string{"c"}, Conditions: []string{"like"}}}}, "not both"},
		{"unknown type", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a", Type: "date"}}}, `unknown type "date"`},
		{"unknown op", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a", Conditions: []string{"=="}}}}, `unknown operator "=="`},
		{"duplicate op", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a", Conditions: []string{"=", "="}}}}, "declared twice"},
		{"duplicate field", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a"}, {Name: "a"}}}, `field "a" is declared twice`},
		{"like on integer", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a", Type: rpc.ReadInteger, Conditions: []string{"like"}}}}, "like needs a string field"},
		{"like on id", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a", Type: rpc.ReadID, Conditions: []string{"like"}}}}, "like needs a string field"},
		{"columns with =", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a", Columns: []string{"b", "c"}, Conditions: []string{"like", "="}}}}, "only like"},
		{"columns without ops", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a", Columns: []string{"b", "c"}}}}, "only like"},
		{"columns sortable", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a", Columns: []string{"b"}, Conditions: []string{"like"}, Sortable: true}}}, "cannot be sortable"},
		{"required without ops", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "a", Required: true}}}, "required field"},
		{"sortable asc", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "ASC", Sortable: true}}}, "asc or desc"},
		{"negative max limit", rpc.ReadSpec{MaxLimit: -1}, "negative"},
		{"default order unknown", rpc.ReadSpec{DefaultOrder: []rpc.ReadOrder{{Field: "x"}}}, `"x" is not a declared sortable`},
		{"default order unsortable", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "x"}}, DefaultOrder: []rpc.ReadOrder{{Field: "x"}}}, "sortable"},
		{"default order twice", rpc.ReadSpec{Fields: []rpc.ReadField{{Name: "x", Sortable: true}}, DefaultOrder: []rpc.ReadOrder{{Field: "x"}, {Field: "x", Desc: true}}}, "twice"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Check()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	var nilSpec *rpc.ReadSpec
	require.Error(t, nilSpec.Check())
}

type readParseCase struct {
	name string
	raw  string
	// want, when no error is wanted
	where  []rpc.ReadCondition
	order  []rpc.ReadOrder
	limit  int
	offset int
	// wantErr: substrings of the message
	wantErr []string
}

var readDefaultOrder = []rpc.ReadOrder{{Field: "id"}}

func readGoodCases() []readParseCase {
	return []readParseCase{
		{name: "empty", raw: ``, order: readDefaultOrder, limit: 5},
		{name: "null", raw: ` null `, order: readDefaultOrder, limit: 5},
		{name: "empty object", raw: `{}`, order: readDefaultOrder, limit: 5},
		{name: "empty where", raw: `{"where":{}}`, where: []rpc.ReadCondition{}, order: readDefaultOrder, limit: 5},
		{name: "bare id string", raw: `{"where":{"id":"42"}}`, where: []rpc.ReadCondition{{"id", "=", int64(42)}}, order: readDefaultOrder, limit: 5},
		{name: "bare id number", raw: `{"where":{"id":42}}`, where: []rpc.ReadCondition{{"id", "=", int64(42)}}, order: readDefaultOrder, limit: 5},
		{name: "max id", raw: `{"where":{"id":"9223372036854775807"}}`, where: []rpc.ReadCondition{{"id", "=", int64(math.MaxInt64)}}, order: readDefaultOrder, limit: 5},
		{name: "id leading zeros", raw: `{"where":{"id":"007"}}`, where: []rpc.ReadCondition{{"id", "=", int64(7)}}, order: readDefaultOrder, limit: 5},
		{name: "explicit ops", raw: `{"where":{"id":["<","10"],"name":["!=","x"],"score":[">",-3],"ratio":["<=",1.5e2],"created":[">=","2024-01-02T03:04:05+02:00"]}}`,
			where: []rpc.ReadCondition{
				{"id", "<", int64(10)},
				{"name", "!=", "x"},
				{"score", ">", int64(-3)},
				{"ratio", "<=", 150.0},
				{"created", ">=", readTime("2024-01-02T01:04:05Z")},
			}, order: readDefaultOrder, limit: 5},
		{name: "created fractional", raw: `{"where":{"created":"2024-01-02T03:04:05.123456789Z"}}`, where: []rpc.ReadCondition{{"created", "=", readTime("2024-01-02T03:04:05.123456789Z")}}, order: readDefaultOrder, limit: 5},
		{name: "boolean", raw: `{"where":{"enabled":false}}`, where: []rpc.ReadCondition{{"enabled", "=", false}}, order: readDefaultOrder, limit: 5},
		{name: "null eq", raw: `{"where":{"email":null}}`, where: []rpc.ReadCondition{{"email", "=", nil}}, order: readDefaultOrder, limit: 5},
		{name: "null eq explicit", raw: `{"where":{"email":["=",null]}}`, where: []rpc.ReadCondition{{"email", "=", nil}}, order: readDefaultOrder, limit: 5},
		{name: "null ne", raw: `{"where":{"email":["!=",null]}}`, where: []rpc.ReadCondition{{"email", "!=", nil}}, order: readDefaultOrder, limit: 5},
		{name: "in", raw: `{"where":{"id":["in",["1",2,"3"]],"name":["in",["a"]]}}`,
			where: []rpc.ReadCondition{{"id", "in", []any{int64(1), int64(2), int64(3)}}, {"name", "in", []any{"a"}}}, order: readDefaultOrder, limit: 5},
		{name: "not in", raw: `{"where":{"email":["not in",["a@b","c@d"]]}}`, where: []rpc.ReadCondition{{"email", "not in", []any{"a@b", "c@d"}}}, order: readDefaultOrder, limit: 5},
		{name: "in 100", raw: `{"where":{"score":["in",[` + strings.Repeat("1,", 99) + `1]]}}`,
			where: []rpc.ReadCondition{{"score", "in", readRepeat(int64(1), 100)}}, order: readDefaultOrder, limit: 5},
		{name: "like", raw: `{"where":{"search":["like","100%_\\"],"title":["like",""]}}`,
			where: []rpc.ReadCondition{{"search", "like", `100%_\`}, {"title", "like", ""}}, order: readDefaultOrder, limit: 5},
		{name: "hostile strings kept intact", raw: `{"where":{"name":["in",["'; DROP TABLE items; --","\"quoted\"","Ünïcödé 🎉","?","$1"]]}}`,
			where: []rpc.ReadCondition{{"name", "in", []any{"'; DROP TABLE items; --", `"quoted"`, "Ünïcödé 🎉", "?", "$1"}}}, order: readDefaultOrder, limit: 5},
		{name: "order by name", raw: `{"order_by":"name"}`, order: []rpc.ReadOrder{{"name", false}}, limit: 5},
		{name: "order by pair", raw: `{"order_by":["name","DESC"]}`, order: []rpc.ReadOrder{{"name", true}}, limit: 5},
		{name: "order by list", raw: `{"order_by":[["enabled","desc"],"name",["id","Asc"]]}`, order: []rpc.ReadOrder{{"enabled", true}, {"name", false}, {"id", false}}, limit: 5},
		{name: "order by list of two names", raw: `{"order_by":["name","id"]}`, order: []rpc.ReadOrder{{"name", false}, {"id", false}}, limit: 5},
		{name: "order by empty list", raw: `{"order_by":[]}`, order: readDefaultOrder, limit: 5},
		{name: "limit", raw: `{"limit":2,"offset":7}`, order: readDefaultOrder, limit: 2, offset: 7},
		{name: "limit clamped", raw: `{"limit":1000}`, order: readDefaultOrder, limit: 5},
		{name: "limit huge clamped", raw: `{"limit":123456789012345678901234567890}`, order: readDefaultOrder, limit: 5},
		{name: "offset zero", raw: `{"offset":0}`, order: readDefaultOrder, limit: 5},
		{name: "offset clamped", raw: `{"offset":99999999999999999999999}`, order: readDefaultOrder, limit: 5, offset: 1_000_000_000},
		{name: "whitespace", raw: "\n { \"limit\" : 1 } \n", order: readDefaultOrder, limit: 1},
	}
}

func readRepeat(v any, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func readBadCases() []readParseCase {
	long := strings.Repeat("x", 5000)
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	return []readParseCase{
		// Shape of the options object.
		{name: "not an object", raw: `[1]`, wantErr: []string{"options: expected an object, got an array"}},
		{name: "string", raw: `"where"`, wantErr: []string{"options: expected an object", `"where"`}},
		{name: "number", raw: `5`, wantErr: []string{"options: expected an object, got 5"}},
		{name: "bad json", raw: `{"where":`, wantErr: []string{"options: not valid JSON"}},
		{name: "bad json 2", raw: `{"limit" 1}`, wantErr: []string{"not valid JSON"}},
		{name: "trailing", raw: `{} {}`, wantErr: []string{"unexpected data after the object"}},
		{name: "trailing garbage", raw: `{}x`, wantErr: []string{"options:"}},
		{name: "unknown key", raw: `{"filter":{}}`, wantErr: []string{`options: unknown key "filter"`, "where, order_by, limit, offset"}},
		{name: "unknown key long", raw: `{"` + long + `":1}`, wantErr: []string{"unknown key", "…"}},
		{name: "duplicate key", raw: `{"limit":1,"limit":2}`, wantErr: []string{`options: duplicate key "limit"`}},
		{name: "duplicate where key", raw: `{"where":{"id":"1","id":"2"}}`, wantErr: []string{`options.where: duplicate key "id"`}},
		{name: "deep nesting", raw: `{"where":{"id":` + deep + `}}`, wantErr: []string{"options.where.id"}},
		{name: "deep nesting order", raw: `{"order_by":` + deep + `}`, wantErr: []string{"options.order_by"}},
		{name: "deep objects", raw: strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000), wantErr: []string{`unknown key "a"`}},

		// where.
		{name: "where array", raw: `{"where":[]}`, wantErr: []string{"options.where: expected an object, got an empty array"}},
		{name: "where null", raw: `{"where":null}`, wantErr: []string{"options.where: expected an object, got null"}},
		{name: "unknown field", raw: `{"where":{"password":"x"}}`, wantErr: []string{`options.where: unknown field "password"`, "filterable: id, name, email, search, created, enabled, score, ratio, title"}},
		{name: "field case matters", raw: `{"where":{"ID":"1"}}`, wantErr: []string{`unknown field "ID"`}},
		{name: "unfilterable field", raw: `{"where":{"name":"x"}}`, wantErr: []string{`unknown field "name"`}}, // only with the users spec below
		{name: "bare value for like only", raw: `{"where":{"search":"x"}}`, wantErr: []string{"options.where.search", `bare value means "="`, `allowed: "like"`, "[operator, value]"}},
		{name: "op not allowed", raw: `{"where":{"enabled":["!=",true]}}`, wantErr: []string{`options.where.enabled: operator "!=" is not allowed (allowed: "=")`}},
		{name: "unknown op", raw: `{"where":{"id":["~","1"]}}`, wantErr: []string{`options.where.id: unknown operator "~"`}},
		{name: "op case", raw: `{"where":{"name":["LIKE","x"]}}`, wantErr: []string{`unknown operator "LIKE"`}},
		{name: "op sql", raw: `{"where":{"name":["= '' OR 1=1 --","x"]}}`, wantErr: []string{`unknown operator "= '' OR 1=1 --"`}},
		{name: "op number", raw: `{"where":{"id":[1,"1"]}}`, wantErr: []string{"options.where.id: the operator must be a string, got 1"}},
		{name: "pair too short", raw: `{"where":{"id":["="]}}`, wantErr: []string{"options.where.id: expected a value or an [operator, value] pair, got an array of 1 items"}},
		{name: "pair too long", raw: `{"where":{"id":["=","1","2"]}}`, wantErr: []string{"array of 3 items"}},
		{name: "pair empty", raw: `{"where":{"id":[]}}`, wantErr: []string{"array of 0 items"}},
		{name: "object value", raw: `{"where":{"id":{"$gt":1}}}`, wantErr: []string{"options.where.id: expected an id (a string of digits), got an object"}},
		{name: "id bool", raw: `{"where":{"id":true}}`, wantErr: []string{"options.where.id: expected an id (a string of digits), got true"}},
		{name: "id negative", raw: `{"where":{"id":-1}}`, wantErr: []string{"expected an id (a string of digits), got -1"}},
		{name: "id negative string", raw: `{"where":{"id":"-1"}}`, wantErr: []string{`expected an id (a string of digits), got "-1"`}},
		{name: "id empty", raw: `{"where":{"id":""}}`, wantErr: []string{`expected an id`}},
		{name: "id letters", raw: `{"where":{"id":"12a"}}`, wantErr: []string{`expected an id`}},
		{name: "id space", raw: `{"where":{"id":" 12"}}`, wantErr: []string{`expected an id`}},
		{name: "id plus", raw: `{"where":{"id":"+12"}}`, wantErr: []string{`expected an id`}},
		{name: "id too big", raw: `{"where":{"id":"9223372036854775808"}}`, wantErr: []string{`expected an id`}},
		{name: "id float", raw: `{"where":{"id":1.0}}`, wantErr: []string{`expected an id`}},
		{name: "id exponent", raw: `{"where":{"id":1e3}}`, wantErr: []string{`expected an id`}},
		{name: "id sql", raw: `{"where":{"id":"1 OR 1=1"}}`, wantErr: []string{`expected an id (a string of digits), got "1 OR 1=1"`}},
		{name: "id explicit op named", raw: `{"where":{"id":["<",true]}}`, wantErr: []string{`options.where.id: expected an id (a string of digits) for "<", got true`}},
		{name: "integer fraction", raw: `{"where":{"score":1.5}}`, wantErr: []string{"options.where.score: expected an integer (64-bit), got 1.5"}},
		{name: "integer huge", raw: `{"where":{"score":[">",99999999999999999999]}}`, wantErr: []string{`options.where.score: expected an integer (64-bit) for ">", got 99999999999999999999`}},
		{name: "integer huge long", raw: `{"where":{"score":` + strings.Repeat("9", 1000) + `}}`, wantErr: []string{`expected an integer`, "…"}},
		{name: "integer string", raw: `{"where":{"score":"5"}}`, wantErr: []string{`expected an integer (64-bit), got "5"`}},
		{name: "number string", raw: `{"where":{"ratio":[">","1"]}}`, wantErr: []string{`options.where.ratio: expected a finite number for ">", got "1"`}},
		{name: "number overflow", raw: `{"where":{"ratio":[">",1e400]}}`, wantErr: []string{`expected a finite number for ">", got 1e400`}},
		{name: "boolean string", raw: `{"where":{"enabled":"true"}}`, wantErr: []string{`options.where.enabled: expected a boolean, got "true"`}},
		{name: "boolean number", raw: `{"where":{"enabled":1}}`, wantErr: []string{`expected a boolean, got 1`}},
		{name: "string number", raw: `{"where":{"name":5}}`, wantErr: []string{`options.where.name: expected a string, got 5`}},
		{name: "string array", raw: `{"where":{"name":["=",["x"]]}}`, wantErr: []string{`options.where.name: expected a string for "=", got an array`}},
		{name: "string too long", raw: `{"where":{"name":"` + long + `"}}`, wantErr: []string{`expected a string of at most 4096 bytes`}},
		{name: "string NUL", raw: `{"where":{"name":"a\u0000b"}}`, wantErr: []string{`options.where.name: expected a string without NUL characters`}},
		{name: "like NUL", raw: `{"where":{"search":["like","\u0000"]}}`, wantErr: []string{`options.where.search: expected a string without NUL characters for "like"`}},
		{name: "like number", raw: `{"where":{"search":["like",1]}}`, wantErr: []string{`options.where.search: expected a string for "like", got 1`}},
		{name: "like null", raw: `{"where":{"search":["like",null]}}`, wantErr: []string{`options.where.search: expected a string for "like", got null`}},
		{name: "time bad", raw: `{"where":{"created":"yesterday"}}`, wantErr: []string{`options.where.created: expected a time (an RFC 3339 string), got "yesterday"`}},
		{name: "time no zone", raw: `{"where":{"created":"2024-01-01T00:00:00"}}`, wantErr: []string{`expected a time`}},
		{name: "time number", raw: `{"where":{"created":["<",1700000000]}}`, wantErr: []string{`expected a time (an RFC 3339 string) for "<", got 1700000000`}},
		{name: "null with <", raw: `{"where":{"score":["<",null]}}`, wantErr: []string{`options.where.score: null is allowed only with "=" and "!=", not "<"`}},
		{name: "in not array", raw: `{"where":{"id":["in","1"]}}`, wantErr: []string{`options.where.id: expected a non-empty array of at most 100 values for "in", got "1"`}},
		{name: "in empty", raw: `{"where":{"id":["in",[]]}}`, wantErr: []string{`non-empty array`, "got an empty array"}},
		{name: "in too many", raw: `{"where":{"score":["in",[` + strings.Repeat("1,", 100) + `1]]}}`, wantErr: []string{`at most 100 values`}},
		{name: "in very many", raw: `{"where":{"score":["in",[` + strings.Repeat("1,", 100000) + `1]]}}`, wantErr: []string{`at most 100 values`}},
		{name: "in wrong item", raw: `{"where":{"id":["in",["1",true]]}}`, wantErr: []string{`options.where.id: expected an id (a string of digits) for "in" (item 1), got true`}},
		{name: "in nested", raw: `{"where":{"id":["in",[["1"]]]}}`, wantErr: []string{`for "in" (item 0), got an array`}},
		{name: "in null item", raw: `{"where":{"email":["not in",[null]]}}`, wantErr: []string{`options.where.email: null cannot be in the list for "not in"`}},
		{name: "required field missing elsewhere", raw: `{"where":{"id":["not in",["1"]],"name":["not in",["x"]]}}`, wantErr: []string{`options.where.name: operator "not in" is not allowed`}},

		// order_by.
		{name: "order unknown", raw: `{"order_by":"password"}`, wantErr: []string{`options.order_by: unknown or unsortable field "password"`, "sortable: id, name, email, created, enabled, score"}},
		{name: "order unsortable", raw: `{"order_by":"ratio"}`, wantErr: []string{`unknown or unsortable field "ratio"`}},
		{name: "order virtual", raw: `{"order_by":["search"]}`, wantErr: []string{`unsortable field "search"`}},
		{name: "order bad direction", raw: `{"order_by":[["name","up"]]}`, wantErr: []string{`options.order_by[0]: expected a field or a [field, "asc"|"desc"] pair, got an array`}},
		{name: "order bad direction pair", raw: `{"order_by":["name","up"]}`, wantErr: []string{`unknown or unsortable field "up"`}},
		{name: "order number", raw: `{"order_by":1}`, wantErr: []string{`options.order_by: expected a field, a [field, "asc"|"desc"] pair or a list of them, got 1`}},
		{name: "order null", raw: `{"order_by":null}`, wantErr: []string{`options.order_by: expected a field`, "got null"}},
		{name: "order object", raw: `{"order_by":{"name":"asc"}}`, wantErr: []string{`got an object`}},
		{name: "order item number", raw: `{"order_by":["name",2]}`, wantErr: []string{`options.order_by[1]: expected a field or a [field, "asc"|"desc"] pair, got 2`}},
		{name: "order twice", raw: `{"order_by":["name",["name","desc"]]}`, wantErr: []string{`options.order_by: field "name" is listed twice`}},
		{name: "order too many", raw: `{"order_by":[` + strings.Repeat(`"id",`, 20) + `"id"]}`, wantErr: []string{`options.order_by: too many terms (21)`}},
		{name: "order sql", raw: `{"order_by":"name; DROP TABLE items"}`, wantErr: []string{`unknown or unsortable field "name; DROP TABLE items"`}},

		// limit and offset.
		{name: "limit zero", raw: `{"limit":0}`, wantErr: []string{"options.limit: expected an integer ≥ 1 (at most 5 are returned), got 0"}},
		{name: "limit negative", raw: `{"limit":-1}`, wantErr: []string{"options.limit", "got -1"}},
		{name: "limit negative huge", raw: `{"limit":-99999999999999999999}`, wantErr: []string{"options.limit"}},
		{name: "limit fraction", raw: `{"limit":1.5}`, wantErr: []string{"options.limit", "got 1.5"}},
		{name: "limit exponent", raw: `{"limit":1e2}`, wantErr: []string{"options.limit", "got 1e2"}},
		{name: "limit string", raw: `{"limit":"10"}`, wantErr: []string{"options.limit", `got "10"`}},
		{name: "limit null", raw: `{"limit":null}`, wantErr: []string{"options.limit", `got null`}},
		{name: "offset negative", raw: `{"offset":-1}`, wantErr: []string{"options.offset: expected an integer ≥ 0, got -1"}},
		{name: "offset string", raw: `{"offset":"1"}`, wantErr: []string{"options.offset", `got "1"`}},
		{name: "offset bool", raw: `{"offset":false}`, wantErr: []string{"options.offset", `got false`}},
	}
}

func TestReadParse(t *testing.T) {
	spec := readItemsSpec()
	require.NoError(t, spec.Check())
	validator := readCompileSchema(t, spec)

	for _, tc := range readGoodCases() {
		t.Run("good/"+tc.name, func(t *testing.T) {
			o, err := spec.Parse(json.RawMessage(tc.raw))
			require.NoError(t, err)
			assert.Equal(t, tc.where, o.Where)
			assert.Equal(t, tc.order, o.OrderBy)
			assert.Equal(t, tc.limit, o.Limit)
			assert.Equal(t, tc.offset, o.Offset)
			if r := strings.TrimSpace(tc.raw); r != "" && r != "null" {
				// What the parser takes, the published schema must allow.
				doc, err := sjs.UnmarshalJSON(strings.NewReader(tc.raw))
				require.NoError(t, err)
				assert.NoError(t, validator.Validate(doc))
			}
		})
	}
	for _, tc := range readBadCases() {
		if tc.name == "unfilterable field" {
			continue
		}
		t.Run("bad/"+tc.name, func(t *testing.T) {
			o, err := spec.Parse(json.RawMessage(tc.raw))
			readRequireInvalid(t, err, tc.wantErr...)
			assert.Equal(t, rpc.ReadOptions{}, o)
		})
	}
}

func TestReadParseUsersAndCallLog(t *testing.T) {
	users := readUsersSpec()
	require.NoError(t, users.Check())
	_, err := users.Parse(json.RawMessage(`{"where":{"name":"x"}}`))
	readRequireInvalid(t, err, `options.where: unknown field "name" (filterable: id, search)`)
	o, err := users.Parse(json.RawMessage(`{"where":{"search":["like","ali"]},"order_by":[["created","desc"]],"limit":500}`))
	require.NoError(t, err)
	assert.Equal(t, []rpc.ReadCondition{{Field: "search", Op: "like", Value: "ali"}}, o.Where)
	assert.Equal(t, 100, o.Limit, "MaxLimit 0 means 100")

	log := readCallLogSpec()
	require.NoError(t, log.Check())
	for _, raw := range []string{``, `null`, `{}`, `{"where":{}}`, `{"order_by":"id"}`} {
		_, err := log.Parse(json.RawMessage(raw))
		readRequireInvalid(t, err, "options.where.method_id is required")
	}
	o, err = log.Parse(json.RawMessage(`{"where":{"method_id":"/v1/admin/users/read"}}`))
	require.NoError(t, err)
	v, ok := o.Value("method_id")
	assert.True(t, ok)
	assert.Equal(t, "/v1/admin/users/read", v)
	_, ok = o.Value("id")
	assert.False(t, ok)
	assert.Equal(t, []rpc.ReadOrder{{Field: "id", Desc: true}}, o.OrderBy)
	_, err = log.Parse(json.RawMessage(`{"where":{"method_id":["like","x"]}}`))
	readRequireInvalid(t, err, `operator "like" is not allowed`)

	d := log.Defaults()
	assert.Empty(t, d.Where)
	assert.Equal(t, 100, d.Limit)
	assert.Equal(t, []rpc.ReadOrder{{Field: "id", Desc: true}}, d.OrderBy)
	// Defaults is a copy: changing it leaves the spec alone.
	d.OrderBy[0].Desc = false
	assert.True(t, log.DefaultOrder[0].Desc)
}

func TestReadValue(t *testing.T) {
	spec := readItemsSpec()
	o, err := spec.Parse(json.RawMessage(`{"where":{"id":["<","5"],"email":null,"score":7}}`))
	require.NoError(t, err)
	v, ok := o.Value("id")
	assert.False(t, ok, "a < condition is not a value")
	assert.Nil(t, v)
	v, ok = o.Value("email")
	assert.True(t, ok)
	assert.Nil(t, v)
	v, ok = o.Value("score")
	assert.True(t, ok)
	assert.Equal(t, int64(7), v)
}

func readCompileSchema(t testing.TB, spec *rpc.ReadSpec) *sjs.Schema {
	t.Helper()
	raw, err := json.Marshal(spec.Schema())
	require.NoError(t, err)
	doc, err := sjs.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	c := sjs.NewCompiler()
	c.DefaultDraft(sjs.Draft2020)
	c.AssertFormat()
	require.NoError(t, c.AddResource("mem:///options.json", doc))
	s, err := c.Compile("mem:///options.json")
	require.NoError(t, err, "%s", raw)
	return s
}

func TestReadSchema(t *testing.T) {
	validate := func(s *sjs.Schema, raw string) error {
		doc, err := sjs.UnmarshalJSON(strings.NewReader(raw))
		require.NoError(t, err)
		return s.Validate(doc)
	}
	items := readCompileSchema(t, readItemsSpec())
	for _, raw := range []string{
		`{"filter":1}`,
		`{"where":{"password":"x"}}`,
		`{"where":{"search":"x"}}`,
		`{"where":{"id":["like","1"]}}`,
		`{"where":{"id":true}}`,
		`{"where":{"id":["in",[]]}}`,
		`{"where":{"score":["<",null]}}`,
		`{"order_by":"ratio"}`,
		`{"order_by":[["name","up"]]}`,
		`{"limit":0}`,
		`{"offset":-1}`,
	} {
		assert.Error(t, validate(items, raw), raw)
	}
	log := readCompileSchema(t, readCallLogSpec())
	assert.Error(t, validate(log, `{}`))
	assert.Error(t, validate(log, `{"where":{}}`))
	assert.NoError(t, validate(log, `{"where":{"method_id":"/v1/x"},"order_by":["id","desc"]}`))

	raw, err := json.Marshal(readUsersSpec().Schema())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, "object", m["type"])
	assert.Equal(t, false, m["additionalProperties"])
	props := m["properties"].(map[string]any)
	assert.Equal(t, float64(100), props["limit"].(map[string]any)["default"])
	where := props["where"].(map[string]any)["properties"].(map[string]any)
	assert.Len(t, where, 2, "only the filterable fields: %s", raw)
}

// The apiRead blocks of the seed's "Read API method access log" and "Read
// users", without the Markdown list's indent.
const (
	readSeedCallLog = `apiRead:
    method_id:
        type: string
        conditions:
            - "="
        required: true
`
	readSeedUsers = `apiRead:
    id:
        type: string
        conditions:
            - "="
        sortable: true
    search:
        type: string
        conditions:
            - like
    name:
        sortable: true
    created:
        sortable: true
    enabled:
        sortable: true
`
)

func TestReadReference(t *testing.T) {
	assert.Equal(t, readSeedCallLog, (&rpc.ReadSpec{
		Fields: []rpc.ReadField{{Name: "method_id", Conditions: []string{"="}, Required: true}},
	}).Reference())
	assert.Equal(t, readSeedUsers, readUsersSpec().Reference())

	assert.Equal(t, `apiRead:
    id:
        type: string
        conditions:
            - "="
            - "!="
            - "<"
            - ">"
            - "<="
            - ">="
            - in
            - not in
        sortable: true
    n:
        type: integer
        conditions:
            - like
    hidden: {}
`, (&rpc.ReadSpec{Fields: []rpc.ReadField{
		{Name: "id", Type: rpc.ReadID, Conditions: []string{"=", "!=", "<", ">", "<=", ">=", "in", "not in"}, Sortable: true},
		{Name: "n", Type: rpc.ReadInteger, Conditions: []string{"like"}}, // Reference does not Check
		{Name: "hidden"},
	}}).Reference())
}

// readItem is a row of the items table of the database tests.
type readItem struct {
	bun.BaseModel `bun:"table:items"`

	ID      int64     `bun:"id,pk"`
	Name    string    `bun:"name,notnull"`
	Email   *string   `bun:"email"`
	Created time.Time `bun:"created,notnull"`
	Enabled bool      `bun:"enabled,notnull"`
	Score   int64     `bun:"score,notnull"`
	Ratio   float64   `bun:"ratio,notnull"`
}

func readStr(s string) *string { return &s }

var readBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// readRows have names full of LIKE and SQL metacharacters.
var readRows = []readItem{
	{ID: 1, Name: "Alice", Email: readStr("alice@example.com"), Enabled: true, Score: 10, Ratio: 0.5},
	{ID: 2, Name: "bob", Enabled: false, Score: 20, Ratio: 1.5},
	{ID: 3, Name: "100% sure", Email: readStr("sure@example.org"), Enabled: true, Score: 30, Ratio: 2.5},
	{ID: 4, Name: "1000 sure", Enabled: true, Score: 40, Ratio: 3.5},
	{ID: 5, Name: "under_score", Email: readStr("UNDER@EXAMPLE.COM"), Enabled: false, Score: 50, Ratio: 4.5},
	{ID: 6, Name: "underXscore", Enabled: true, Score: 60, Ratio: 5.5},
	{ID: 7, Name: `back\slash`, Email: readStr(`back\slash@example.com`), Enabled: true, Score: 70, Ratio: 6.5},
	{ID: 8, Name: "backslash", Enabled: false, Score: 80, Ratio: 7.5},
	{ID: 9, Name: "O'Brien", Email: readStr("o'brien@example.com"), Enabled: true, Score: 90, Ratio: 8.5},
	{ID: 10, Name: `say "hi"`, Enabled: true, Score: 100, Ratio: 9.5},
	{ID: 11, Name: "MiXeD CaSe", Email: readStr("mixed@Example.com"), Enabled: false, Score: 110, Ratio: 10.5},
	{ID: 12, Name: "'; DROP TABLE items; --", Enabled: true, Score: 120, Ratio: 11.5},
}

func readSetup(t *testing.T, db *bun.DB) {
	t.Helper()
	ctx := context.Background()
	_, err := db.NewCreateTable().Model((*readItem)(nil)).Exec(ctx)
	require.NoError(t, err)
	rows := make([]readItem, len(readRows))
	copy(rows, readRows)
	for i := range rows {
		rows[i].Created = readBase.Add(time.Duration(i) * time.Hour)
	}
	_, err = db.NewInsert().Model(&rows).Exec(ctx)
	require.NoError(t, err)
}

func TestReadApply(t *testing.T) {
	spec := readItemsSpec()
	spec.MaxLimit = 100
	require.NoError(t, spec.Check())

	cases := []struct {
		name string
		raw  string
		want []int64 // ids, in order
	}{
		{"all", `{}`, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{"like percent", `{"where":{"title":["like","100%"]}}`, []int64{3}},
		{"like percent alone", `{"where":{"title":["like","%"]}}`, []int64{3}},
		{"like underscore", `{"where":{"title":["like","r_s"]}}`, []int64{5}},
		{"like backslash", `{"where":{"title":["like","k\\s"]}}`, []int64{7}},
		{"like quote", `{"where":{"title":["like","'"]}}`, []int64{9, 12}},
		{"like double quote", `{"where":{"title":["like","\"hi\""]}}`, []int64{10}},
		{"like case", `{"where":{"title":["like","mixed case"]}}`, []int64{11}},
		{"like case upper", `{"where":{"title":["like","ALICE"]}}`, []int64{1}},
		{"like sql", `{"where":{"title":["like","DROP TABLE"]}}`, []int64{12}},
		{"like empty", `{"where":{"title":["like",""]}}`, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{"like nothing", `{"where":{"title":["like","zzz"]}}`, nil},
		{"search columns", `{"where":{"search":["like","example.com"]}}`, []int64{1, 5, 7, 9, 11}},
		{"search name or email", `{"where":{"search":["like","UNDER"]}}`, []int64{5, 6}},
		{"search backslash email", `{"where":{"search":["like","\\slash@"]}}`, []int64{7}},
		{"eq", `{"where":{"name":"bob"}}`, []int64{2}},
		{"eq case sensitive", `{"where":{"name":"BOB"}}`, nil},
		{"eq hostile", `{"where":{"name":"'; DROP TABLE items; --"}}`, []int64{12}},
		{"eq quote", `{"where":{"name":"O'Brien"}}`, []int64{9}},
		{"eq backslash", `{"where":{"name":"back\\slash"}}`, []int64{7}},
		{"ne", `{"where":{"name":["!=","bob"],"id":["<=","3"]}}`, []int64{1, 3}},
		{"ne includes null", `{"where":{"email":["!=","alice@example.com"]}}`, []int64{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{"is null", `{"where":{"email":null}}`, []int64{2, 4, 6, 8, 10, 12}},
		{"is not null", `{"where":{"email":["!=",null]}}`, []int64{1, 3, 5, 7, 9, 11}},
		{"id lt", `{"where":{"id":["<","3"]}}`, []int64{1, 2}},
		{"id gt number", `{"where":{"id":[">",10]}}`, []int64{11, 12}},
		{"id ge", `{"where":{"id":[">=","12"]}}`, []int64{12}},
		{"in", `{"where":{"id":["in",["3","1","99"]]}}`, []int64{1, 3}},
		{"in names", `{"where":{"name":["in",["bob","O'Brien","nobody"]]}}`, []int64{2, 9}},
		{"not in", `{"where":{"id":["not in",["1","2","3","4","5","6","7","8","9","10"]]}}`, []int64{11, 12}},
		{"not in includes null", `{"where":{"email":["not in",["alice@example.com","sure@example.org"]],"id":["<=","4"]}}`, []int64{2, 4}},
		{"score", `{"where":{"score":["in",[20,40]]}}`, []int64{2, 4}},
		{"score lt", `{"where":{"score":["<",25]}}`, []int64{1, 2}},
		{"ratio", `{"where":{"ratio":[">",10.0]}}`, []int64{11, 12}},
		{"bool", `{"where":{"enabled":false}}`, []int64{2, 5, 8, 11}},
		{"time lt", `{"where":{"created":["<","2024-01-01T02:00:00Z"]}}`, []int64{1, 2}},
		{"time ge other zone", `{"where":{"created":[">=","2024-01-01T12:00:00+01:00"]}}`, []int64{12}},
		{"time eq", `{"where":{"created":"2024-01-01T03:00:00Z"}}`, []int64{4}},
		{"and", `{"where":{"enabled":true,"score":[">",50],"title":["like","s"]}}`, []int64{6, 7, 10, 12}},
		{"order desc", `{"order_by":["id","desc"],"limit":3}`, []int64{12, 11, 10}},
		{"order multi", `{"order_by":[["enabled","desc"],["score","desc"]],"where":{"id":["<=","6"]}}`, []int64{6, 4, 3, 1, 5, 2}},
		{"order name", `{"order_by":"name","where":{"id":["in",["1","2","11"]]}}`, []int64{1, 11, 2}},
		{"order nulls last asc", `{"order_by":["email","id"],"where":{"id":["<=","4"]}}`, []int64{1, 3, 2, 4}},
		{"order nulls first desc", `{"order_by":[["email","desc"],"id"],"where":{"id":["<=","4"]}}`, []int64{2, 4, 3, 1}},
		{"limit", `{"limit":2}`, []int64{1, 2}},
		{"limit clamped", `{"limit":1000000,"where":{"id":[">","0"]}}`, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{"offset", `{"limit":2,"offset":3}`, []int64{4, 5}},
		{"offset past end", `{"offset":1000000000000}`, nil},
	}

	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		readSetup(t, db)
		ctx := context.Background()
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				o, err := spec.Parse(json.RawMessage(tc.raw))
				require.NoError(t, err)
				var got []readItem
				q := o.Apply(db.NewSelect().Model(&got))
				require.NoError(t, q.Scan(ctx), "%s", q.String())
				var ids []int64
				for _, r := range got {
					ids = append(ids, r.ID)
				}
				assert.Equal(t, tc.want, ids, "%s", q.String())
			})
		}

		t.Run("limit clamp at MaxLimit", func(t *testing.T) {
			small := readItemsSpec() // MaxLimit 5
			o, err := small.Parse(json.RawMessage(`{"limit":50}`))
			require.NoError(t, err)
			n, err := o.Apply(db.NewSelect().Model((*readItem)(nil))).Count(ctx)
			require.NoError(t, err)
			assert.EqualValues(t, 12, n, "Count drops the limit")
			var got []readItem
			require.NoError(t, o.Apply(db.NewSelect().Model(&got)).Scan(ctx))
			assert.Len(t, got, 5)
		})

		t.Run("count with ApplyWhere", func(t *testing.T) {
			o, err := spec.Parse(json.RawMessage(`{"where":{"enabled":true},"limit":2,"offset":1}`))
			require.NoError(t, err)
			n, err := o.ApplyWhere(db.NewSelect().Model((*readItem)(nil))).Count(ctx)
			require.NoError(t, err)
			assert.EqualValues(t, 8, n)
			var got []readItem
			require.NoError(t, o.Apply(db.NewSelect().Model(&got)).Scan(ctx))
			assert.Len(t, got, 2)
			assert.Equal(t, int64(3), got[0].ID)
		})

		t.Run("group keeps other conditions", func(t *testing.T) {
			o, err := spec.Parse(json.RawMessage(`{"where":{"id":["in",["1","2","3"]]}}`))
			require.NoError(t, err)
			var got []readItem
			q := db.NewSelect().Model(&got).WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("score = ?", 10).WhereOr("score = ?", 80)
			})
			require.NoError(t, o.Apply(q).Scan(ctx))
			require.Len(t, got, 1)
			assert.Equal(t, int64(1), got[0].ID)
		})

		t.Run("table survives", func(t *testing.T) {
			n, err := db.NewSelect().Model((*readItem)(nil)).Count(ctx)
			require.NoError(t, err)
			assert.EqualValues(t, len(readRows), n)
		})
	})
}

func TestReadApplyPanicsOnForeignOptions(t *testing.T) {
	db := readOfflineDB(t)
	assert.Panics(t, func() {
		rpc.ReadOptions{Where: []rpc.ReadCondition{{Field: "id", Op: "=", Value: 1}}}.Apply(db.NewSelect().Table("items"))
	})
	o, err := readItemsSpec().Parse(nil)
	require.NoError(t, err)
	o.Where = append(o.Where, rpc.ReadCondition{Field: "password", Op: "=", Value: "x"})
	assert.Panics(t, func() { o.Apply(db.NewSelect().Table("items")) })
	// The zero options apply nothing.
	assert.Equal(t, `SELECT * FROM "items"`, rpc.ReadOptions{}.Apply(db.NewSelect().Table("items")).String())
}

func TestReadApplySQL(t *testing.T) {
	db := readOfflineDB(t)
	spec := readItemsSpec()
	o, err := spec.Parse(json.RawMessage(`{"where":{"search":["like","a%b_c\\d'e"],"email":["not in",["x"]],"id":"1"},"order_by":[["name","desc"],"id"],"limit":3,"offset":4}`))
	require.NoError(t, err)
	got := o.Apply(db.NewSelect().Table("items")).String()
	want := `SELECT * FROM "items" WHERE ((("name" LIKE '%a\%b\_c\\d''e%' ESCAPE '\' OR "email" LIKE '%a\%b\_c\\d''e%' ESCAPE '\')) AND (("email" IS NULL OR "email" NOT IN ('x'))) AND ("id" = 1)) ORDER BY "name" DESC NULLS FIRST, "id" ASC NULLS LAST LIMIT 3 OFFSET 4`
	assert.Equal(t, want, got)
}

// readOfflineDB is a bun.DB for building SQL text only.
func readOfflineDB(t testing.TB) *bun.DB {
	t.Helper()
	sqldb, err := sql.Open("sqlite", "file::memory:")
	require.NoError(t, err)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	t.Cleanup(func() { db.Close() })
	return db
}

func BenchmarkReadParse(b *testing.B) {
	spec := readUsersSpec()
	raw := json.RawMessage(`{"where":{"id":"12345","search":["like","alice"]},"order_by":[["created","desc"],"name"],"limit":50,"offset":100}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := spec.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
