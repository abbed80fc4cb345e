package calllog_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// logRow is a read-log row with the fields the filters read.
type logRow struct {
	ID            string    `json:"id"`
	UserID        *string   `json:"user_id"`
	Date          time.Time `json:"date"`
	Status        int       `json:"status"`
	IsError       bool      `json:"is_error"`
	IsDeclined    bool      `json:"is_declined"`
	IsException   bool      `json:"is_exception"`
	RemoteAddress *string   `json:"remote_address"`
}

// readWhere reads a page of mOK's rows matching where (besides method_id).
func (e *env) readWhere(t *testing.T, where map[string]any, limit, offset int) ([]logRow, map[string]any) {
	t.Helper()
	w := map[string]any{"method_id": mOK}
	for k, v := range where {
		w[k] = v
	}
	body, err := json.Marshal([]any{map[string]any{"where": w, "limit": limit, "offset": offset}})
	require.NoError(t, err)
	var rows []logRow
	a := e.ok(t, readLog, string(body), &rows)
	return rows, a.Meta
}

// logged makes mOK's calls of the filter tests, in three writes (so that
// there are several batches), and answers every row, newest first.
func (e *env) logged(t *testing.T) []logRow {
	t.Helper()
	calls := []struct {
		token, addr, body string
	}{
		{e.admin, "203.0.113.1", `["a"]`},
		{e.admin, "203.0.113.1", `[5]`}, // -32808
		{e.plain, "2001:db8::9", `["b"]`},
		{"", "203.0.113.1", `["c"]`},
		{"", "198.51.100.7", `[6]`},
		{e.plain, "::ffff:198.51.100.7", `["d"]`},
	}
	written := e.mod.Stats().Written
	for i, c := range calls {
		e.c.From(c.addr).As(c.token).Post(t, mOK, c.body)
		if i%2 == 1 { // wait for the write: the next calls go in another batch
			written += 2
			require.Eventually(t, func() bool { return e.mod.Stats().Written == written }, 5*time.Second, 5*time.Millisecond)
		}
	}
	rows, meta := e.readWhere(t, nil, 100, 0)
	require.Len(t, rows, len(calls))
	require.EqualValues(t, len(calls), meta["total"])
	return rows
}

func TestReadLogFilters(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, fast(calllog.Options{}))
		all := e.logged(t)

		addrs := map[string]int{}
		for _, r := range all {
			require.NotNil(t, r.RemoteAddress, "every call has its address")
			addrs[*r.RemoteAddress]++
		}
		assert.Equal(t, map[string]int{"203.0.113.1": 3, "2001:db8::9": 1, "198.51.100.7": 2}, addrs, "an IPv4-mapped address is stored as IPv4")

		// each checks that where selects exactly the rows want says, newest
		// first, with the total, on every page.
		each := func(name string, where map[string]any, want func(r logRow) bool) {
			t.Helper()
			var expect []string
			for _, r := range all {
				if want(r) {
					expect = append(expect, r.ID)
				}
			}
			rows, meta := e.readWhere(t, where, 100, 0)
			var got []string
			for _, r := range rows {
				got = append(got, r.ID)
			}
			assert.Equal(t, expect, got, name)
			assert.EqualValues(t, len(expect), meta["total"], name)
			assert.Nil(t, meta["partial"], name)
			if len(expect) > 1 { // the second page of one row
				rows, meta = e.readWhere(t, where, 1, 1)
				require.Len(t, rows, 1, name)
				assert.Equal(t, expect[1], rows[0].ID, name)
				assert.EqualValues(t, len(expect), meta["total"], name)
			}
		}
		user := func(r logRow) string {
			if r.UserID == nil {
				return ""
			}
			return *r.UserID
		}
		each("status =", map[string]any{"status": 200}, func(r logRow) bool { return r.Status == 200 })
		each("status !=", map[string]any{"status": []any{"!=", 200}}, func(r logRow) bool { return r.Status != 200 })
		each("status in", map[string]any{"status": []any{"in", []any{-32808, 404}}}, func(r logRow) bool { return r.Status == -32808 })
		each("status not in", map[string]any{"status": []any{"not in", []any{-32808, 404}}}, func(r logRow) bool { return r.Status == 200 })
		each("user", map[string]any{"user_id": "7"}, func(r logRow) bool { return user(r) == "7" })
		each("user by number", map[string]any{"user_id": 8}, func(r logRow) bool { return user(r) == "8" })
		each("guests", map[string]any{"user_id": nil}, func(r logRow) bool { return user(r) == "" })
		each("signed in", map[string]any{"user_id": []any{"!=", nil}}, func(r logRow) bool { return user(r) != "" })
		each("users in", map[string]any{"user_id": []any{"in", []any{"7", "8"}}}, func(r logRow) bool { return user(r) != "" })
		each("users not in", map[string]any{"user_id": []any{"not in", []any{"7"}}}, func(r logRow) bool { return user(r) != "7" })
		each("errors", map[string]any{"is_error": true}, func(r logRow) bool { return r.IsError })
		each("no errors", map[string]any{"is_error": false}, func(r logRow) bool { return !r.IsError })
		each("declined", map[string]any{"is_declined": true}, func(r logRow) bool { return r.IsDeclined })
		each("exceptions", map[string]any{"is_exception": false}, func(r logRow) bool { return !r.IsException })
		each("address", map[string]any{"remote_address": "198.51.100.7"}, func(r logRow) bool { return *r.RemoteAddress == "198.51.100.7" })
		each("address mapped", map[string]any{"remote_address": "::ffff:198.51.100.7"}, func(r logRow) bool { return *r.RemoteAddress == "198.51.100.7" })
		each("not the address", map[string]any{"remote_address": []any{"!=", "203.0.113.1"}}, func(r logRow) bool { return *r.RemoteAddress != "203.0.113.1" })
		each("unknown address", map[string]any{"remote_address": nil}, func(logRow) bool { return false })
		each("together", map[string]any{"remote_address": "203.0.113.1", "status": 200, "user_id": "7"},
			func(r logRow) bool { return *r.RemoteAddress == "203.0.113.1" && r.Status == 200 && user(r) == "7" })

		// Dates, at each row: the bounds that take it in and those that leave it out.
		for i, pivot := range all {
			d := pivot.Date.Format(time.RFC3339Nano)
			next := pivot.Date.Add(time.Microsecond).Format(time.RFC3339Nano)
			name := fmt.Sprintf("row %d", i)
			each(name+" >=", map[string]any{"date_from": []any{">=", d}}, func(r logRow) bool { return !r.Date.Before(pivot.Date) })
			each(name+" >", map[string]any{"date_from": []any{">", d}}, func(r logRow) bool { return r.Date.After(pivot.Date) })
			each(name+" <", map[string]any{"date_to": []any{"<", d}}, func(r logRow) bool { return r.Date.Before(pivot.Date) })
			each(name+" <=", map[string]any{"date_to": []any{"<=", d}}, func(r logRow) bool { return !r.Date.After(pivot.Date) })
			each(name+" alone", map[string]any{"date_from": []any{">=", d}, "date_to": []any{"<", next}},
				func(r logRow) bool {
					return !r.Date.Before(pivot.Date) && r.Date.Before(pivot.Date.Add(time.Microsecond))
				})
			each(name+" and errors", map[string]any{"date_to": []any{"<=", d}, "is_error": true},
				func(r logRow) bool { return !r.Date.After(pivot.Date) && r.IsError })
		}
		// A bound between microseconds.
		mid := all[2].Date.Add(500 * time.Nanosecond).Format(time.RFC3339Nano)
		each("between microseconds >", map[string]any{"date_from": []any{">", mid}}, func(r logRow) bool { return r.Date.After(all[2].Date) })
		each("between microseconds <", map[string]any{"date_to": []any{"<", mid}}, func(r logRow) bool { return !r.Date.After(all[2].Date) })
	})
}

// A filter on more than dates stops counting past its bound on examined
// rows, once the page is complete, and says so.
func TestReadLogFilterBound(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, calllog.WithMaxScanRows(fast(calllog.Options{}), 2))
		all := e.logged(t)
		rows, meta := e.readWhere(t, map[string]any{"status": 200}, 1, 0)
		require.Len(t, rows, 1)
		assert.Equal(t, all[0].ID, rows[0].ID)
		assert.Equal(t, true, meta["partial"])
		assert.Less(t, meta["total"], float64(4), "counted among the rows examined")
		scanned, err := time.Parse(time.RFC3339Nano, meta["scanned_to"].(string))
		require.NoError(t, err)
		assert.False(t, scanned.After(all[0].Date))

		// Dates alone count in full whatever the bound.
		rows, meta = e.readWhere(t, map[string]any{"date_from": []any{">=", all[5].Date.Format(time.RFC3339Nano)}}, 1, 0)
		require.Len(t, rows, 1)
		assert.EqualValues(t, 6, meta["total"])
		assert.Nil(t, meta["partial"])
	})
}

// Every filter refuses what it cannot take with -32808, naming the field.
func TestReadLogFilterBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.SQLite(t), fast(calllog.Options{}))
	for _, c := range []struct{ where, field string }{
		{`"status": "200"`, "status"},
		{`"status": 2.5`, "status"},
		{`"status": null`, "status"},
		{`"status": ["<", 300]`, "status"},
		{`"status": ["in", []]`, "status"},
		{`"user_id": "bob"`, "user_id"},
		{`"user_id": -1`, "user_id"},
		{`"user_id": ["in", [null]]`, "user_id"},
		{`"date_from": "2024-01-01T00:00:00Z"`, "date_from"},
		{`"date_from": [">=", "yesterday"]`, "date_from"},
		{`"date_from": ["<", "2024-01-01T00:00:00Z"]`, "date_from"},
		{`"date_to": ["<", null]`, "date_to"},
		{`"date_to": ["<", 1700000000]`, "date_to"},
		{`"is_error": "yes"`, "is_error"},
		{`"is_declined": null`, "is_declined"},
		{`"is_exception": ["!=", true]`, "is_exception"},
		{`"remote_address": "not an address"`, "remote_address"},
		{`"remote_address": "203.0.113.1:80"`, "remote_address"},
		{`"remote_address": ["like", "203"]`, "remote_address"},
		{`"remote_address": 7`, "remote_address"},
		{`"runtime": 5`, "runtime"},
	} {
		body := `[{"where": {"method_id": "` + mOK + `", ` + c.where + `}}]`
		a := e.c.As(e.admin).Post(t, readLog, body)
		assert.Equal(t, rpc.CodeInvalidParams, a.Code, "%s: %s", c.where, a.Raw)
		assert.Equal(t, 400, a.HTTP, c.where)
		assert.True(t, strings.Contains(a.Message, c.field), "%s: %s", c.where, a.Message)
	}
	a := e.c.As(e.admin).Post(t, readLog, `[{"where": {"method_id": "/v1/nope", "status": 200}}]`)
	assert.Equal(t, 404, a.Code, a.Raw)
	assert.True(t, slices.Contains([]int{401, 403, -32801}, e.c.Post(t, readLog, `[{"where": {"method_id": "`+mOK+`", "status": 200}}]`).Code) ||
		e.c.Post(t, readLog, `[{"where": {"method_id": "`+mOK+`"}}]`).Code == rpc.CodeInsufficientPermissions)
}
