package readsql_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite"

	"github.com/authrpc/authrpc/rpc/read"
	"github.com/authrpc/authrpc/storage/readsql"
	"github.com/authrpc/authrpc/storage/storagetest"
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

// item is a row of the items table of the database tests.
type item struct {
	bun.BaseModel `bun:"table:items"`

	ID      int64     `bun:"id,pk"`
	Name    string    `bun:"name,notnull"`
	Email   *string   `bun:"email"`
	Created time.Time `bun:"created,notnull"`
	Enabled bool      `bun:"enabled,notnull"`
	Score   int64     `bun:"score,notnull"`
	Ratio   float64   `bun:"ratio,notnull"`
}

func ptr(s string) *string { return &s }

var firstCreated = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// itemRows have names full of LIKE and SQL metacharacters.
var itemRows = []item{
	{ID: 1, Name: "Alice", Email: ptr("alice@example.com"), Enabled: true, Score: 10, Ratio: 0.5},
	{ID: 2, Name: "bob", Enabled: false, Score: 20, Ratio: 1.5},
	{ID: 3, Name: "100% sure", Email: ptr("sure@example.org"), Enabled: true, Score: 30, Ratio: 2.5},
	{ID: 4, Name: "1000 sure", Enabled: true, Score: 40, Ratio: 3.5},
	{ID: 5, Name: "under_score", Email: ptr("UNDER@EXAMPLE.COM"), Enabled: false, Score: 50, Ratio: 4.5},
	{ID: 6, Name: "underXscore", Enabled: true, Score: 60, Ratio: 5.5},
	{ID: 7, Name: `back\slash`, Email: ptr(`back\slash@example.com`), Enabled: true, Score: 70, Ratio: 6.5},
	{ID: 8, Name: "backslash", Enabled: false, Score: 80, Ratio: 7.5},
	{ID: 9, Name: "O'Brien", Email: ptr("o'brien@example.com"), Enabled: true, Score: 90, Ratio: 8.5},
	{ID: 10, Name: `say "hi"`, Enabled: true, Score: 100, Ratio: 9.5},
	{ID: 11, Name: "MiXeD CaSe", Email: ptr("mixed@Example.com"), Enabled: false, Score: 110, Ratio: 10.5},
	{ID: 12, Name: "'; DROP TABLE items; --", Enabled: true, Score: 120, Ratio: 11.5},
}

func setup(t *testing.T, db *bun.DB) {
	t.Helper()
	ctx := context.Background()
	_, err := db.NewCreateTable().Model((*item)(nil)).Exec(ctx)
	require.NoError(t, err)
	rows := make([]item, len(itemRows))
	copy(rows, itemRows)
	for i := range rows {
		rows[i].Created = firstCreated.Add(time.Duration(i) * time.Hour)
	}
	_, err = db.NewInsert().Model(&rows).Exec(ctx)
	require.NoError(t, err)
}

// applyCase is options and the ids of the rows they select, in order.
type applyCase struct {
	name string
	raw  string
	want []int64
}

func applyCases() []applyCase {
	return []applyCase{
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
		{"id then where", `{"id":"3","where":{"name":["!=","bob"]}}`, []int64{3}},
		{"id then where missing", `{"id":"3","where":{"name":"bob"}}`, nil},
		{"where then id", `{"where":{"name":"bob"},"id":"3"}`, nil},
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	spec := itemsSpec()
	spec.MaxLimit = 100
	require.NoError(t, spec.Check())
	cases := applyCases()

	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		setup(t, db)
		ctx := context.Background()
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				o, err := spec.Parse(json.RawMessage(tc.raw))
				require.NoError(t, err)
				var got []item
				q := readsql.Apply(db.NewSelect().Model(&got), o)
				require.NoError(t, q.Scan(ctx), "%s", q.String())
				var ids []int64
				for _, r := range got {
					ids = append(ids, r.ID)
				}
				assert.Equal(t, tc.want, ids, "%s", q.String())
			})
		}

		t.Run("limit clamp at MaxLimit", func(t *testing.T) {
			small := itemsSpec() // MaxLimit 5
			o, err := small.Parse(json.RawMessage(`{"limit":50}`))
			require.NoError(t, err)
			n, err := readsql.Apply(db.NewSelect().Model((*item)(nil)), o).Count(ctx)
			require.NoError(t, err)
			assert.EqualValues(t, 12, n, "Count drops the limit")
			var got []item
			require.NoError(t, readsql.Apply(db.NewSelect().Model(&got), o).Scan(ctx))
			assert.Len(t, got, 5)
		})

		t.Run("count with ApplyWhere", func(t *testing.T) {
			o, err := spec.Parse(json.RawMessage(`{"where":{"enabled":true},"limit":2,"offset":1}`))
			require.NoError(t, err)
			n, err := readsql.ApplyWhere(db.NewSelect().Model((*item)(nil)), o).Count(ctx)
			require.NoError(t, err)
			assert.EqualValues(t, 8, n)
			var got []item
			require.NoError(t, readsql.Apply(db.NewSelect().Model(&got), o).Scan(ctx))
			assert.Len(t, got, 2)
			assert.Equal(t, int64(3), got[0].ID)
		})

		t.Run("group keeps other conditions", func(t *testing.T) {
			o, err := spec.Parse(json.RawMessage(`{"where":{"id":["in",["1","2","3"]]}}`))
			require.NoError(t, err)
			var got []item
			q := db.NewSelect().Model(&got).WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("score = ?", 10).WhereOr("score = ?", 80)
			})
			require.NoError(t, readsql.Apply(q, o).Scan(ctx))
			require.Len(t, got, 1)
			assert.Equal(t, int64(1), got[0].ID)
		})

		t.Run("table survives", func(t *testing.T) {
			n, err := db.NewSelect().Model((*item)(nil)).Count(ctx)
			require.NoError(t, err)
			assert.EqualValues(t, len(itemRows), n)
		})
	})
}

func TestApplyPanicsOnForeignOptions(t *testing.T) {
	t.Parallel()
	db := offlineDB(t)
	assert.Panics(t, func() {
		readsql.Apply(db.NewSelect().Table("items"), read.Options{Where: []read.Condition{{Field: "id", Op: "=", Value: 1}}})
	})
	o, err := itemsSpec().Parse(nil)
	require.NoError(t, err)
	o.Where = append(o.Where, read.Condition{Field: "password", Op: "=", Value: "x"})
	assert.Panics(t, func() { readsql.Apply(db.NewSelect().Table("items"), o) })
	// The zero options apply nothing.
	assert.Equal(t, `SELECT * FROM "items"`, readsql.Apply(db.NewSelect().Table("items"), read.Options{}).String())
}

func TestApplySQL(t *testing.T) {
	t.Parallel()
	db := offlineDB(t)
	spec := itemsSpec()
	o, err := spec.Parse(json.RawMessage(`{"where":{"search":["like","a%b_c\\d'e"],"email":["not in",["x"]],"id":"1"},"order_by":[["name","desc"],"id"],"limit":3,"offset":4}`))
	require.NoError(t, err)
	got := readsql.Apply(db.NewSelect().Table("items"), o).String()
	want := `SELECT * FROM "items" WHERE ((("name" LIKE '%a\%b\_c\\d''e%' ESCAPE '\' OR "email" LIKE '%a\%b\_c\\d''e%' ESCAPE '\')) AND (("email" IS NULL OR "email" NOT IN ('x'))) AND ("id" = 1)) ORDER BY "name" DESC NULLS FIRST, "id" ASC NULLS LAST LIMIT 3 OFFSET 4`
	assert.Equal(t, want, got)
}

// offlineDB is a bun.DB for building SQL text only.
func offlineDB(t testing.TB) *bun.DB {
	t.Helper()
	sqldb, err := sql.Open("sqlite", "file::memory:")
	require.NoError(t, err)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	t.Cleanup(func() { db.Close() })
	return db
}
