package read_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc/read"
)

// itemsSpec declares the fields of the items table the tests query.
func itemsSpec() *read.Spec {
	return &read.Spec{
		Fields: []read.Field{
			{Name: "id", Type: read.ID, Conditions: []string{"=", "!=", "<", ">", "<=", ">=", "in", "not in"}, Sortable: true},
			{Name: "name", Conditions: []string{"=", "!=", "like", "in"}, Sortable: true},
			{Name: "email", Conditions: []string{"=", "!=", "like", "not in"}, Sortable: true},
			{Name: "search", Columns: []string{"name", "email"}, Conditions: []string{"like"}},
			{Name: "created", Type: read.Time, Conditions: []string{"=", "<", ">="}, Sortable: true},
			{Name: "enabled", Type: read.Boolean, Conditions: []string{"="}, Sortable: true},
			{Name: "score", Type: read.Integer, Conditions: []string{"=", "<", ">", "in"}, Sortable: true},
			{Name: "ratio", Type: read.Number, Conditions: []string{">", "<="}},
			{Name: "title", Column: "name", Conditions: []string{"like"}},
		},
		MaxLimit:     5,
		DefaultOrder: []read.Order{{Field: "id"}},
	}
}

// usersSpec and callLogSpec are the specs of the users and call-log reads.
func usersSpec() *read.Spec {
	return &read.Spec{
		Fields: []read.Field{
			{Name: "id", Type: read.ID, Conditions: []string{"="}, Sortable: true},
			{Name: "search", Columns: []string{"name", "email", "telegram_name"}, Conditions: []string{"like"}},
			{Name: "name", Sortable: true},
			{Name: "created", Type: read.Time, Sortable: true},
			{Name: "enabled", Type: read.Boolean, Sortable: true},
		},
		DefaultOrder: []read.Order{{Field: "id"}},
	}
}

func callLogSpec() *read.Spec {
	return &read.Spec{
		Fields: []read.Field{
			{Name: "method_id", Conditions: []string{"="}, Required: true},
			{Name: "id", Type: read.ID, Sortable: true},
		},
		DefaultOrder: []read.Order{{Field: "id", Desc: true}},
	}
}

// requireInvalid checks that err is a refusal whose message holds wants.
func requireInvalid(t *testing.T, err error, wants ...string) {
	t.Helper()
	require.Error(t, err)
	var e *read.Error
	require.True(t, errors.As(err, &e), "want *read.Error, got %T", err)
	assert.Equal(t, e.Message, err.Error(), "the error's text is the message the client gets")
	for _, w := range wants {
		assert.Contains(t, e.Message, w)
	}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestSpecCheck(t *testing.T) {
	t.Parallel()
	for _, spec := range []*read.Spec{itemsSpec(), usersSpec(), callLogSpec(), {}} {
		require.NoError(t, spec.Check())
	}
	require.NoError(t, (&read.Spec{Fields: []read.Field{{Name: "n", Column: "u.name", Conditions: []string{"="}}}}).Check())

	bad := []struct {
		name string
		spec read.Spec
		want string
	}{
		{"empty name", read.Spec{Fields: []read.Field{{Name: ""}}}, "plain identifier"},
		{"name with quote", read.Spec{Fields: []read.Field{{Name: `a"b`}}}, "plain identifier"},
		{"name with digit first", read.Spec{Fields: []read.Field{{Name: "1a"}}}, "plain identifier"},
		{"column injection", read.Spec{Fields: []read.Field{{Name: "a", Column: "a; DROP TABLE x"}}}, "not a plain identifier"},
		{"column three parts", read.Spec{Fields: []read.Field{{Name: "a", Column: "s.t.c"}}}, "not a plain identifier"},
		{"columns injection", read.Spec{Fields: []read.Field{{Name: "a", Columns: []string{"b", "c)"}, Conditions: []string{"like"}}}}, "not a plain identifier"},
		{"column and columns", read.Spec{Fields: []read.Field{{Name: "a", Column: "b", Columns: []string{"c"}, Conditions: []string{"like"}}}}, "not both"},
		{"unknown type", read.Spec{Fields: []read.Field{{Name: "a", Type: "date"}}}, `unknown type "date"`},
		{"unknown op", read.Spec{Fields: []read.Field{{Name: "a", Conditions: []string{"=="}}}}, `unknown operator "=="`},
		{"duplicate op", read.Spec{Fields: []read.Field{{Name: "a", Conditions: []string{"=", "="}}}}, "declared twice"},
		{"duplicate field", read.Spec{Fields: []read.Field{{Name: "a"}, {Name: "a"}}}, `field "a" is declared twice`},
		{"like on integer", read.Spec{Fields: []read.Field{{Name: "a", Type: read.Integer, Conditions: []string{"like"}}}}, "like needs a string field"},
		{"like on id", read.Spec{Fields: []read.Field{{Name: "a", Type: read.ID, Conditions: []string{"like"}}}}, "like needs a string field"},
		{"columns with =", read.Spec{Fields: []read.Field{{Name: "a", Columns: []string{"b", "c"}, Conditions: []string{"like", "="}}}}, "only like"},
		{"columns without ops", read.Spec{Fields: []read.Field{{Name: "a", Columns: []string{"b", "c"}}}}, "only like"},
		{"columns sortable", read.Spec{Fields: []read.Field{{Name: "a", Columns: []string{"b"}, Conditions: []string{"like"}, Sortable: true}}}, "cannot be sortable"},
		{"required without ops", read.Spec{Fields: []read.Field{{Name: "a", Required: true}}}, "required field"},
		{"sortable asc", read.Spec{Fields: []read.Field{{Name: "ASC", Sortable: true}}}, "asc or desc"},
		{"negative max limit", read.Spec{MaxLimit: -1}, "negative"},
		{"default order unknown", read.Spec{DefaultOrder: []read.Order{{Field: "x"}}}, `"x" is not a declared sortable`},
		{"default order unsortable", read.Spec{Fields: []read.Field{{Name: "x"}}, DefaultOrder: []read.Order{{Field: "x"}}}, "sortable"},
		{"default order twice", read.Spec{Fields: []read.Field{{Name: "x", Sortable: true}}, DefaultOrder: []read.Order{{Field: "x"}, {Field: "x", Desc: true}}}, "twice"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Check()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	var nilSpec *read.Spec
	require.Error(t, nilSpec.Check())
}

type parseCase struct {
	name string
	raw  string
	// want, when no error is wanted
	where  []read.Condition
	order  []read.Order
	limit  int
	offset int
	// wantErr: substrings of the message
	wantErr []string
}

var defaultOrder = []read.Order{{Field: "id"}}

func goodCases() []parseCase {
	return []parseCase{
		{name: "empty", raw: ``, order: defaultOrder, limit: 5},
		{name: "null", raw: ` null `, order: defaultOrder, limit: 5},
		{name: "empty object", raw: `{}`, order: defaultOrder, limit: 5},
		{name: "empty where", raw: `{"where":{}}`, where: []read.Condition{}, order: defaultOrder, limit: 5},
		{name: "bare id string", raw: `{"where":{"id":"42"}}`, where: []read.Condition{{"id", "=", int64(42)}}, order: defaultOrder, limit: 5},
		{name: "bare id number", raw: `{"where":{"id":42}}`, where: []read.Condition{{"id", "=", int64(42)}}, order: defaultOrder, limit: 5},
		{name: "max id", raw: `{"where":{"id":"9223372036854775807"}}`, where: []read.Condition{{"id", "=", int64(math.MaxInt64)}}, order: defaultOrder, limit: 5},
		{name: "id leading zeros", raw: `{"where":{"id":"007"}}`, where: []read.Condition{{"id", "=", int64(7)}}, order: defaultOrder, limit: 5},
		{name: "explicit ops", raw: `{"where":{"id":["<","10"],"name":["!=","x"],"score":[">",-3],"ratio":["<=",1.5e2],"created":[">=","2024-01-02T03:04:05+02:00"]}}`,
			where: []read.Condition{
				{"id", "<", int64(10)},
				{"name", "!=", "x"},
				{"score", ">", int64(-3)},
				{"ratio", "<=", 150.0},
				{"created", ">=", utc("2024-01-02T01:04:05Z")},
			}, order: defaultOrder, limit: 5},
		{name: "created fractional", raw: `{"where":{"created":"2024-01-02T03:04:05.123456789Z"}}`, where: []read.Condition{{"created", "=", utc("2024-01-02T03:04:05.123456789Z")}}, order: defaultOrder, limit: 5},
		{name: "boolean", raw: `{"where":{"enabled":false}}`, where: []read.Condition{{"enabled", "=", false}}, order: defaultOrder, limit: 5},
		{name: "null eq", raw: `{"where":{"email":null}}`, where: []read.Condition{{"email", "=", nil}}, order: defaultOrder, limit: 5},
		{name: "null eq explicit", raw: `{"where":{"email":["=",null]}}`, where: []read.Condition{{"email", "=", nil}}, order: defaultOrder, limit: 5},
		{name: "null ne", raw: `{"where":{"email":["!=",null]}}`, where: []read.Condition{{"email", "!=", nil}}, order: defaultOrder, limit: 5},
		{name: "in", raw: `{"where":{"id":["in",["1",2,"3"]],"name":["in",["a"]]}}`,
			where: []read.Condition{{"id", "in", []any{int64(1), int64(2), int64(3)}}, {"name", "in", []any{"a"}}}, order: defaultOrder, limit: 5},
		{name: "not in", raw: `{"where":{"email":["not in",["a@b","c@d"]]}}`, where: []read.Condition{{"email", "not in", []any{"a@b", "c@d"}}}, order: defaultOrder, limit: 5},
		{name: "in 100", raw: `{"where":{"score":["in",[` + strings.Repeat("1,", 99) + `1]]}}`,
			where: []read.Condition{{"score", "in", repeat(int64(1), 100)}}, order: defaultOrder, limit: 5},
		{name: "like", raw: `{"where":{"search":["like","100%_\\"],"title":["like",""]}}`,
			where: []read.Condition{{"search", "like", `100%_\`}, {"title", "like", ""}}, order: defaultOrder, limit: 5},
		{name: "hostile strings kept intact", raw: `{"where":{"name":["in",["'; DROP TABLE items; --","\"quoted\"","Ünïcödé 🎉","?","$1"]]}}`,
			where: []read.Condition{{"name", "in", []any{"'; DROP TABLE items; --", `"quoted"`, "Ünïcödé 🎉", "?", "$1"}}}, order: defaultOrder, limit: 5},
		{name: "order by name", raw: `{"order_by":"name"}`, order: []read.Order{{"name", false}}, limit: 5},
		{name: "order by pair", raw: `{"order_by":["name","DESC"]}`, order: []read.Order{{"name", true}}, limit: 5},
		{name: "order by list", raw: `{"order_by":[["enabled","desc"],"name",["id","Asc"]]}`, order: []read.Order{{"enabled", true}, {"name", false}, {"id", false}}, limit: 5},
		{name: "order by list of two names", raw: `{"order_by":["name","id"]}`, order: []read.Order{{"name", false}, {"id", false}}, limit: 5},
		{name: "order by empty list", raw: `{"order_by":[]}`, order: defaultOrder, limit: 5},
		{name: "limit", raw: `{"limit":2,"offset":7}`, order: defaultOrder, limit: 2, offset: 7},
		{name: "limit clamped", raw: `{"limit":1000}`, order: defaultOrder, limit: 5},
		{name: "limit huge clamped", raw: `{"limit":123456789012345678901234567890}`, order: defaultOrder, limit: 5},
		{name: "offset zero", raw: `{"offset":0}`, order: defaultOrder, limit: 5},
		{name: "offset clamped", raw: `{"offset":99999999999999999999999}`, order: defaultOrder, limit: 5, offset: 1_000_000_000},
		{name: "whitespace", raw: "\n { \"limit\" : 1 } \n", order: defaultOrder, limit: 1},
	}
}

func repeat(v any, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func badCases() []parseCase {
	long := strings.Repeat("x", 5000)
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	return []parseCase{
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

		// id.
		{name: "id and where.id", raw: `{"where":{"id":"1"},"id":"2"}`, wantErr: []string{"options.id: where.id names a row too"}},
		{name: "id then where.id", raw: `{"id":"1","where":{"id":["!=","1"]}}`, wantErr: []string{"options.id: where.id names a row too"}},
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	spec := itemsSpec()
	require.NoError(t, spec.Check())
	validator := compileSchema(t, spec)

	for _, tc := range goodCases() {
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
	for _, tc := range badCases() {
		if tc.name == "unfilterable field" {
			continue
		}
		t.Run("bad/"+tc.name, func(t *testing.T) {
			o, err := spec.Parse(json.RawMessage(tc.raw))
			requireInvalid(t, err, tc.wantErr...)
			assert.Equal(t, read.Options{}, o)
		})
	}
}

func TestParseUsersAndCallLog(t *testing.T) {
	t.Parallel()
	users := usersSpec()
	require.NoError(t, users.Check())
	_, err := users.Parse(json.RawMessage(`{"where":{"name":"x"}}`))
	requireInvalid(t, err, `options.where: unknown field "name" (filterable: id, search)`)
	o, err := users.Parse(json.RawMessage(`{"where":{"search":["like","ali"]},"order_by":[["created","desc"]],"limit":500}`))
	require.NoError(t, err)
	assert.Equal(t, []read.Condition{{Field: "search", Op: "like", Value: "ali"}}, o.Where)
	assert.Equal(t, 100, o.Limit, "MaxLimit 0 means 100")

	log := callLogSpec()
	require.NoError(t, log.Check())
	for _, raw := range []string{``, `null`, `{}`, `{"where":{}}`, `{"order_by":"id"}`} {
		_, err := log.Parse(json.RawMessage(raw))
		requireInvalid(t, err, "options.where.method_id is required")
	}
	o, err = log.Parse(json.RawMessage(`{"where":{"method_id":"/v1/admin/users/read"}}`))
	require.NoError(t, err)
	v, ok := o.Value("method_id")
	assert.True(t, ok)
	assert.Equal(t, "/v1/admin/users/read", v)
	_, ok = o.Value("id")
	assert.False(t, ok)
	assert.Equal(t, []read.Order{{Field: "id", Desc: true}}, o.OrderBy)
	_, err = log.Parse(json.RawMessage(`{"where":{"method_id":["like","x"]}}`))
	requireInvalid(t, err, `operator "like" is not allowed`)

	d := log.Defaults()
	assert.Empty(t, d.Where)
	assert.Equal(t, 100, d.Limit)
	assert.Equal(t, []read.Order{{Field: "id", Desc: true}}, d.OrderBy)
	// Defaults is a copy: changing it leaves the spec alone.
	d.OrderBy[0].Desc = false
	assert.True(t, log.DefaultOrder[0].Desc)
}

func TestParseOptionsID(t *testing.T) {
	t.Parallel()
	spec := itemsSpec()
	for _, raw := range []string{`{"id":"3","where":{"name":"x"}}`, `{"where":{"name":"x"},"id":3}`} {
		o, err := spec.Parse(json.RawMessage(raw))
		require.NoError(t, err, raw)
		assert.True(t, o.One, raw)
		assert.Equal(t, int64(3), o.ID, raw)
		assert.ElementsMatch(t, []read.Condition{{"id", "=", int64(3)}, {"name", "=", "x"}}, o.Where, "where keeps options.id's condition, in either order: %s", raw)
	}
	for _, raw := range []string{`{"where":{"id":"1"},"id":"2"}`, `{"id":"2","where":{"id":["in",["1","2"]]}}`} {
		o, err := spec.Parse(json.RawMessage(raw))
		requireInvalid(t, err, "options.id: where.id names a row too; send one of them")
		assert.Equal(t, read.Options{}, o)
	}
}

func TestValue(t *testing.T) {
	t.Parallel()
	spec := itemsSpec()
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

func compileSchema(t testing.TB, spec *read.Spec) *sjs.Schema {
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

func TestSchema(t *testing.T) {
	t.Parallel()
	validate := func(s *sjs.Schema, raw string) error {
		doc, err := sjs.UnmarshalJSON(strings.NewReader(raw))
		require.NoError(t, err)
		return s.Validate(doc)
	}
	items := compileSchema(t, itemsSpec())
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
	log := compileSchema(t, callLogSpec())
	assert.Error(t, validate(log, `{}`))
	assert.Error(t, validate(log, `{"where":{}}`))
	assert.NoError(t, validate(log, `{"where":{"method_id":"/v1/x"},"order_by":["id","desc"]}`))

	raw, err := json.Marshal(usersSpec().Schema())
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

// The apiRead blocks of the API v1 reference's "Read API method access log" and "Read
// users", without the Markdown list's indent.
const (
	seedCallLog = `apiRead:
    method_id:
        type: string
        conditions:
            - "="
        required: true
`
	seedUsers = `apiRead:
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

func TestReference(t *testing.T) {
	t.Parallel()
	assert.Equal(t, seedCallLog, (&read.Spec{
		Fields: []read.Field{{Name: "method_id", Conditions: []string{"="}, Required: true}},
	}).Reference())
	assert.Equal(t, seedUsers, usersSpec().Reference())

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
`, (&read.Spec{Fields: []read.Field{
		{Name: "id", Type: read.ID, Conditions: []string{"=", "!=", "<", ">", "<=", ">=", "in", "not in"}, Sortable: true},
		{Name: "n", Type: read.Integer, Conditions: []string{"like"}}, // Reference does not Check
		{Name: "hidden"},
	}}).Reference())
}

func BenchmarkParse(b *testing.B) {
	spec := usersSpec()
	raw := json.RawMessage(`{"where":{"id":"12345","search":["like","alice"]},"order_by":[["created","desc"],"name"],"limit":50,"offset":100}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := spec.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
