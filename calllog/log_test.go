package calllog_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

type tally struct{ accepted, declined, errors, exceptions int64 }

// TestCallsAreLogged makes calls of every kind through the handler and finds
// each in read-log and in both statistics, within the stated lag.
func TestCallsAreLogged(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, fast(calllog.Options{}))
		c := e.c
		begin := time.Now().UTC()

		for _, tok := range []string{e.admin, e.admin, ""} {
			require.Equal(t, 200, c.As(tok).Post(t, mOK, `["x"]`).Code)
		}
		require.Equal(t, rpc.CodeInvalidParams, c.Post(t, mOK, `[5]`).Code)
		for range 2 {
			require.Equal(t, 400, c.As(e.plain).Post(t, mFail, ``).Code)
		}
		require.Equal(t, 500, c.Post(t, mBoom, ``).Code)
		require.Equal(t, 500, c.Post(t, mPanic, ``).Code)
		for _, tok := range []string{"", "", e.plain} {
			require.Equal(t, rpc.CodeInsufficientPermissions, c.As(tok).Post(t, mAdmin, ``).Code)
		}
		require.Equal(t, 200, c.As(e.admin).Post(t, mAdmin, ``).Code)
		require.Equal(t, 200, c.Post(t, mLimited, ``).Code)
		for range 2 {
			require.Equal(t, 429, c.Post(t, mLimited, ``).Code)
		}
		for range 2 {
			require.Equal(t, 200, c.Post(t, mQuiet, ``).Code)
		}
		end := time.Now().UTC()

		want := map[string]tally{
			mOK:      {accepted: 4, errors: 1},
			mFail:    {accepted: 2, errors: 2},
			mBoom:    {accepted: 1, errors: 1, exceptions: 1},
			mPanic:   {accepted: 1, errors: 1, exceptions: 1},
			mAdmin:   {accepted: 1, declined: 3},
			mLimited: {accepted: 1, declined: 2},
		}

		// read-log: every call, newest first.
		rows := map[string][]row{}
		require.Eventually(t, func() bool {
			for id, w := range want {
				rows[id] = e.readAll(t, id)
				if int64(len(rows[id])) != w.accepted+w.declined {
					return false
				}
			}
			return true
		}, 5*time.Second, 10*time.Millisecond)
		assert.Empty(t, e.readAll(t, mQuiet), "a method with NoCallLog is not logged")
		for id, list := range rows {
			for i, r := range list {
				assert.Equal(t, id, r.MethodID)
				assert.NotEmpty(t, r.ID)
				assert.GreaterOrEqual(t, r.Runtime, 0.0)
				assert.False(t, r.Date.Before(begin.Truncate(time.Microsecond)) || r.Date.After(end), "date %s", r.Date)
				assert.Equal(t, time.UTC, r.Date.Location())
				if i > 0 {
					assert.False(t, r.Date.After(list[i-1].Date), "newest first")
				}
			}
		}
		oks := rows[mOK] // newest first: [5] as guest, then guest, admin, admin
		assert.Equal(t, rpc.CodeInvalidParams, oks[0].Status)
		assert.Contains(t, oks[0].StatusText, `parameter 1 "text"`)
		assert.True(t, oks[0].IsError)
		assert.Nil(t, oks[1].UserID, "a guest has no user id")
		assert.Equal(t, row{ID: oks[3].ID, MethodID: mOK, UserID: ptr("7"), Date: oks[3].Date, Runtime: oks[3].Runtime,
			Status: 200, StatusText: "OK"}, oks[3])
		fail := rows[mFail][0]
		assert.Equal(t, []any{400, `no "good" input`, true, false, false, ptr("8")},
			[]any{fail.Status, fail.StatusText, fail.IsError, fail.IsException, fail.IsDeclined, fail.UserID})
		for _, id := range []string{mBoom, mPanic} {
			r := rows[id][0]
			assert.Equal(t, []any{500, "Internal Server Error", true, true, false},
				[]any{r.Status, r.StatusText, r.IsError, r.IsException, r.IsDeclined}, id)
		}
		declined := rows[mAdmin][1]
		assert.Equal(t, []any{rpc.CodeInsufficientPermissions, "Insufficient permissions", true, true, false, ptr("8")},
			[]any{declined.Status, declined.StatusText, declined.IsDeclined, declined.IsError, declined.IsException, declined.UserID})
		limited := rows[mLimited][0]
		assert.Equal(t, []any{429, true, true}, []any{limited.Status, limited.IsDeclined, limited.IsError})

		// Both statistics, once merged. The wait is bounded generously: a
		// history read encodes 4,320 buckets a method, and on a loaded machine
		// under -race one round of reads took tens of seconds.
		for _, s := range []struct {
			name string
			read func(testing.TB, string) calllog.MethodStats
			step time.Duration
			n    int
			lag  time.Duration
		}{
			{"latest", e.latest, time.Minute, 60, 5 * time.Minute},
			{"history", e.history, 10 * time.Minute, 4320, 5 * time.Minute},
		} {
			start := time.Now()
			require.Eventually(t, func() bool {
				for id, w := range want {
					if a, d, er, ex := sum(s.read(t, id)); (tally{a, d, er, ex}) != w {
						return false
					}
				}
				return true
			}, s.lag, 10*time.Millisecond, s.name)
			t.Logf("%s statistics caught up in %s", s.name, time.Since(start))
			for id := range want {
				ms := s.read(t, id)
				assert.Equal(t, id, ms.MethodID)
				requireWindow(t, ms, s.step, s.n)
				expectBuckets(t, rows[id], ms, s.step)
			}
			ms := s.read(t, mQuiet)
			a, d, _, _ := sum(ms)
			assert.Zero(t, a+d, "%s: a method with NoCallLog has no statistics", s.name)
		}

		// Without a method id, read-latest-stat answers every logged method.
		var all []calllog.MethodStats
		e.ok(t, readLatest, ``, &all)
		var ids, logged []string
		for _, ms := range all {
			ids = append(ids, ms.MethodID)
			requireWindow(t, ms, time.Minute, 60)
		}
		for _, m := range e.reg.Methods() {
			if m.CallLog {
				logged = append(logged, m.ID)
			}
		}
		assert.Equal(t, logged, ids)
		assert.NotContains(t, ids, mQuiet)
		assert.Contains(t, ids, readLog)
		for _, ms := range all {
			if w, ok := want[ms.MethodID]; ok {
				a, d, er, ex := sum(ms)
				assert.Equal(t, w, tally{a, d, er, ex}, ms.MethodID)
			}
		}
		assert.Equal(t, uint64(0), e.mod.Stats().Dropped)
	})
}

func ptr[T any](v T) *T { return &v }

// requireWindow checks that buckets are n consecutive steps ending with the
// one that holds now.
func requireWindow(t testing.TB, ms calllog.MethodStats, step time.Duration, n int) {
	t.Helper()
	require.Len(t, ms.Buckets, n)
	now := time.Now().UTC()
	last := ms.Buckets[n-1].Date
	require.Equal(t, time.UTC, last.Location())
	require.Equal(t, last, last.Truncate(step), "aligned")
	require.True(t, !last.After(now) && now.Sub(last) < step+5*time.Second, "the last bucket holds now: %s", last)
	for i := 1; i < n; i++ {
		require.Equal(t, step, ms.Buckets[i].Date.Sub(ms.Buckets[i-1].Date))
	}
}

// expectBuckets checks every bucket against what the logged rows say.
func expectBuckets(t testing.TB, rows []row, ms calllog.MethodStats, step time.Duration) {
	t.Helper()
	type acc struct {
		b   calllog.Bucket
		sum float64
	}
	want := map[time.Time]*acc{}
	for _, r := range rows {
		d := r.Date.Truncate(step)
		a := want[d]
		if a == nil {
			a = &acc{b: calllog.Bucket{Date: d}}
			want[d] = a
		}
		if r.IsException {
			a.b.TotalExceptions++
		}
		if r.IsDeclined {
			a.b.TotalDeclined++
			continue
		}
		a.b.TotalAccepted++
		if r.IsError {
			a.b.TotalErrors++
		}
		a.sum += r.Runtime
		a.b.MaxRuntime = max(a.b.MaxRuntime, r.Runtime)
	}
	seen := 0
	for _, got := range ms.Buckets {
		w := calllog.Bucket{Date: got.Date}
		avg := 0.0
		if a := want[got.Date]; a != nil {
			seen++
			w = a.b
			if w.TotalAccepted > 0 {
				w.ExceptionsPercent = float64(w.TotalExceptions) / float64(w.TotalAccepted) * 100
				avg = a.sum / float64(w.TotalAccepted)
			}
		}
		assert.InDelta(t, avg, got.AvgRuntime, 1e-6, "avg_runtime %s", got.Date)
		assert.InDelta(t, w.MaxRuntime, got.MaxRuntime, 1e-6, "max_runtime %s", got.Date)
		w.AvgRuntime, w.MaxRuntime = got.AvgRuntime, got.MaxRuntime
		assert.Equal(t, w, got)
	}
	assert.Equal(t, len(want), seen, "every row falls in the window")
}

// TestStatsArithmetic feeds records with known times and runtimes and checks
// the buckets exactly: what counts as accepted, declined, an error and an
// exception, the percent, the average and the maximum, the windows' edges.
func TestStatsArithmetic(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		now := time.Date(2030, 1, 1, 12, 34, 56, 0, time.UTC)
		e := newEnv(t, db, fast(calllog.Options{Now: func() time.Time { return now }}))
		at := func(hm string, sec int) time.Time {
			d, err := time.Parse("15:04", hm)
			require.NoError(t, err)
			return time.Date(2030, 1, 1, d.Hour(), d.Minute(), sec, 0, time.UTC)
		}
		ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
		feed := []rpc.CallRecord{
			// Minute 12:34: 4 accepted (1 error, 1 exception), 2 declined.
			{Start: at("12:34", 0), Runtime: ms(1), Code: 200},
			{Start: at("12:34", 10), Runtime: ms(2), Code: 400, Error: true},
			{Start: at("12:34", 20), Runtime: ms(3), Code: 500, Error: true, Exception: true},
			{Start: at("12:34", 59), Runtime: ms(10), Code: 204},
			{Start: at("12:34", 30), Runtime: ms(50), Code: -32801, Error: true, Declined: true, UserID: 8},
			{Start: at("12:34", 31), Runtime: ms(70), Code: 429, Error: true, Declined: true},
			// Minute 12:33 (same ten minutes): only declined.
			{Start: at("12:33", 59), Runtime: ms(5), Code: 429, Error: true, Declined: true},
			// The window's first minute, and one just before it.
			{Start: at("11:35", 0), Runtime: ms(0.5), Code: 200},
			{Start: at("11:34", 59), Runtime: ms(0.25), Code: 200},
			// Ten minutes 12:20.
			{Start: at("12:29", 0), Runtime: ms(1.5), Code: 200},
			{Start: at("12:20", 0), Runtime: ms(0.5), Code: 500, Error: true, Exception: true},
			// Before the history window.
			{Start: now.Add(-31 * 24 * time.Hour), Runtime: ms(1), Code: 200},
		}
		for _, rec := range feed {
			rec.Method = mOK
			e.mod.ObserveCall(rec)
		}
		require.Eventually(t, func() bool { return e.mod.Stats().Written == uint64(len(feed)) }, 5*time.Second, 5*time.Millisecond)
		// The rows are written before the statistics are merged only by chance: wait for both.
		require.Eventually(t, func() bool { a, _, _, _ := sum(e.latest(t, mOK)); return a == 7 }, 5*time.Second, 5*time.Millisecond)

		lt := e.latest(t, mOK)
		require.Len(t, lt.Buckets, 60)
		assert.Equal(t, at("11:35", 0), lt.Buckets[0].Date)
		assert.Equal(t, at("12:34", 0), lt.Buckets[59].Date)
		assert.Equal(t, calllog.Bucket{Date: at("12:34", 0), TotalAccepted: 4, TotalDeclined: 2, TotalErrors: 2, TotalExceptions: 1,
			ExceptionsPercent: 25, AvgRuntime: 4, MaxRuntime: 10}, lt.Buckets[59])
		assert.Equal(t, calllog.Bucket{Date: at("12:33", 0), TotalDeclined: 1}, lt.Buckets[58])
		assert.Equal(t, calllog.Bucket{Date: at("11:35", 0), TotalAccepted: 1, AvgRuntime: 0.5, MaxRuntime: 0.5}, lt.Buckets[0])
		assert.Equal(t, calllog.Bucket{Date: at("12:29", 0), TotalAccepted: 1, AvgRuntime: 1.5, MaxRuntime: 1.5}, lt.Buckets[54])
		assert.Equal(t, calllog.Bucket{Date: at("12:20", 0), TotalAccepted: 1, TotalErrors: 1, TotalExceptions: 1,
			ExceptionsPercent: 100, AvgRuntime: 0.5, MaxRuntime: 0.5}, lt.Buckets[45])

		h := e.history(t, mOK)
		require.Len(t, h.Buckets, 4320)
		assert.Equal(t, at("12:30", 0), h.Buckets[4319].Date)
		assert.Equal(t, at("12:30", 0).Add(-4319*10*time.Minute), h.Buckets[0].Date)
		assert.Equal(t, calllog.Bucket{Date: at("12:30", 0), TotalAccepted: 4, TotalDeclined: 3, TotalErrors: 2, TotalExceptions: 1,
			ExceptionsPercent: 25, AvgRuntime: 4, MaxRuntime: 10}, h.Buckets[4319])
		assert.Equal(t, calllog.Bucket{Date: at("12:20", 0), TotalAccepted: 2, TotalErrors: 1, TotalExceptions: 1,
			ExceptionsPercent: 50, AvgRuntime: 1, MaxRuntime: 1.5}, h.Buckets[4318])
		assert.Equal(t, calllog.Bucket{Date: at("11:30", 0), TotalAccepted: 2, AvgRuntime: 0.375, MaxRuntime: 0.5}, h.Buckets[4313])
		a, d, er, ex := sum(h)
		assert.Equal(t, tally{8, 3, 3, 2}, tally{a, d, er, ex}, "the 31-day-old call is outside the window")

		// The empty buckets are zeros, also in JSON.
		a2 := e.ok(t, readLatest, `["`+mOK+`"]`, nil)
		var raw []struct {
			Buckets []map[string]any `json:"buckets"`
		}
		require.NoError(t, json.Unmarshal(a2.Data, &raw))
		assert.Equal(t, map[string]any{"date": "2030-01-01T11:36:00Z", "total_accepted": 0.0, "total_declined": 0.0,
			"total_errors": 0.0, "total_exceptions": 0.0, "exceptions_percent": 0.0, "avg_runtime": 0.0, "max_runtime": 0.0},
			raw[0].Buckets[1])
	})
}

// TestReadLogPages checks limit (at most 100), offset, meta.total and the
// order on rows fed with known times.
func TestReadLogPages(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, fast(calllog.Options{}))
		base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
		const n = 150
		for i := range n {
			e.mod.ObserveCall(rpc.CallRecord{Method: mOK, Start: base.Add(time.Duration(i) * time.Second),
				Runtime: time.Duration(i) * time.Millisecond, Code: 200, StatusText: "OK", UserID: int64(i % 2)})
		}
		// One of another method, in the middle.
		e.mod.ObserveCall(rpc.CallRecord{Method: mFail, Start: base, Code: 400})
		require.Eventually(t, func() bool { return e.mod.Stats().Written == n+1 }, 5*time.Second, 5*time.Millisecond)

		page := func(opts string) ([]row, float64) {
			var rows []row
			a := e.ok(t, readLog, `[`+opts+`]`, &rows)
			return rows, a.Meta["total"].(float64)
		}
		rows, total := page(`{"where":{"method_id":"` + mOK + `"}}`)
		assert.Equal(t, 150.0, total)
		require.Len(t, rows, 100, "the default limit is 100")
		for i, r := range rows {
			sec := n - 1 - i
			assert.Equal(t, base.Add(time.Duration(sec)*time.Second), r.Date)
			assert.Equal(t, float64(sec), r.Runtime)
			if sec%2 == 1 {
				assert.Equal(t, ptr("1"), r.UserID)
			} else {
				assert.Nil(t, r.UserID)
			}
		}
		rows, total = page(`{"where":{"method_id":"` + mOK + `"},"limit":1000}`)
		assert.Equal(t, 150.0, total)
		assert.Len(t, rows, 100, "limit is clamped at 100")
		rows, _ = page(`{"where":{"method_id":["=","` + mOK + `"]},"limit":10,"offset":145}`)
		require.Len(t, rows, 5)
		assert.Equal(t, base.Add(4*time.Second), rows[0].Date)
		rows, total = page(`{"where":{"method_id":"` + mFail + `"}}`)
		assert.Equal(t, 1.0, total)
		assert.Len(t, rows, 1)
		// Ids are strings of digits, distinct.
		all := e.readAll(t, mOK)
		ids := map[string]bool{}
		for _, r := range all {
			assert.Regexp(t, `^[0-9]+$`, r.ID)
			ids[r.ID] = true
		}
		assert.Len(t, ids, n)
	})
}

// TestBadInputs sends wrong parameters to the three methods: each is a 4xx
// with a message, never a 500.
func TestBadInputs(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, fast(calllog.Options{}))
		long := string(slices.Repeat([]byte("a"), 5000))
		for _, c := range []struct {
			method, body string
			code         int
			msg          string
		}{
			{readLog, ``, rpc.CodeInvalidParams, "method_id is required"},
			{readLog, `[]`, rpc.CodeInvalidParams, "method_id is required"},
			{readLog, `[null]`, rpc.CodeInvalidParams, "method_id is required"},
			{readLog, `[{}]`, rpc.CodeInvalidParams, "method_id is required"},
			{readLog, `[{"where":{}}]`, rpc.CodeInvalidParams, "method_id is required"},
			{readLog, `[{"limit":5}]`, rpc.CodeInvalidParams, "method_id is required"},
			{readLog, `[{"where":{"method_id":5}}]`, rpc.CodeInvalidParams, "expected a string"},
			{readLog, `[{"where":{"method_id":null}}]`, rpc.CodeInvalidParams, "method_id"},
			{readLog, `[{"where":{"method_id":["like","ok"]}}]`, rpc.CodeInvalidParams, "not allowed"},
			{readLog, `[{"where":{"method_id":["=","` + mOK + `"],"runtime":7}}]`, rpc.CodeInvalidParams, "unknown field"},
			{readLog, `[{"where":{"method_id":"` + mOK + `"},"extra":1}]`, rpc.CodeInvalidParams, "unknown key"},
			{readLog, `[{"where":{"method_id":"` + mOK + `"},"order_by":"date"}]`, rpc.CodeInvalidParams, "order_by"},
			{readLog, `[{"where":{"method_id":"` + mOK + `"},"limit":0}]`, rpc.CodeInvalidParams, "limit"},
			{readLog, `[{"where":{"method_id":"` + mOK + `"},"limit":"10"}]`, rpc.CodeInvalidParams, "limit"},
			{readLog, `[{"where":{"method_id":"` + mOK + `"},"offset":-1}]`, rpc.CodeInvalidParams, "offset"},
			{readLog, `[{"where":{"method_id":"` + mOK + `"}}, 1]`, rpc.CodeInvalidParams, "too many parameters"},
			{readLog, `["` + mOK + `"]`, rpc.CodeInvalidParams, "expected an object"},
			{readLog, `[{"where":{"method_id":"a\u0000b"}}]`, rpc.CodeInvalidParams, "NUL"},
			{readLog, `[{"where":{"method_id":"` + long + `"}}]`, rpc.CodeInvalidParams, "at most 4096 bytes"},
			{readLog, `[{"where":{"method_id":"x' OR '1'='1"}}]`, 404, "not found"},
			{readLog, `[{"where":{"method_id":"/v1/t/ok; DROP TABLE calllog_calls"}}]`, 404, "not found"},
			{readLog, `[{"where":{"method_id":"` + mOK + `","method_id":"x"}}]`, rpc.CodeInvalidParams, "duplicate key"},
			{readLog, `[{"where":`, rpc.CodeParseError, "not valid JSON"},
			{readLatest, `[5]`, rpc.CodeInvalidParams, `parameter 1 "method_id"`},
			{readLatest, `[{"a":1}]`, rpc.CodeInvalidParams, `parameter 1 "method_id"`},
			{readLatest, `[["` + mOK + `"]]`, rpc.CodeInvalidParams, `parameter 1 "method_id"`},
			{readLatest, `["` + mOK + `", 1]`, rpc.CodeInvalidParams, "too many parameters"},
			{readLatest, `["/v1/nope"]`, 404, `method "/v1/nope" not found`},
			{readLatest, `[""]`, 404, "not found"},
			{readLatest, `["x' OR '1'='1"]`, 404, "not found"},
			{readLatest, `["` + long + `"]`, 404, "…"},
			{readHistory, ``, rpc.CodeInvalidParams, `parameter 1 "method_id" is required`},
			{readHistory, `[null]`, rpc.CodeInvalidParams, `parameter 1 "method_id" is required`},
			{readHistory, `[true]`, rpc.CodeInvalidParams, `parameter 1 "method_id"`},
			{readHistory, `["` + mOK + `", "` + mOK + `"]`, rpc.CodeInvalidParams, "too many parameters"},
			{readHistory, `["\u0000"]`, 404, "not found"},
			{readHistory, `["/v1/t/ok\"); DELETE FROM calllog_stat_10m; --"]`, 404, "not found"},
			{readOverview, `["` + mOK + `"]`, rpc.CodeInvalidParams, "too many parameters"},
			{readOverview, `{"method_id":"x"}`, rpc.CodeInvalidParams, ""},
		} {
			a := e.c.As(e.admin).Post(t, c.method, c.body)
			assert.Equal(t, c.code, a.Code, "%s %.80s: %s", c.method, c.body, a.Raw)
			assert.Contains(t, a.Message, c.msg, "%s %.80s", c.method, c.body)
			assert.Less(t, a.HTTP, 500)
			assert.GreaterOrEqual(t, a.HTTP, 400)
			assert.Less(t, len(a.Raw), 1000, "the answer does not echo a long input")
		}

		// Not an admin: refused, and the refusal is logged as declined.
		for _, tok := range []string{"", e.plain} {
			a := e.c.As(tok).Post(t, readHistory, `["`+mOK+`"]`)
			assert.Equal(t, rpc.CodeInsufficientPermissions, a.Code)
		}
		// The admin's calls above are rows of read-history-stat too: wait for
		// the two refusals themselves, the newest.
		require.Eventually(t, func() bool {
			rows := e.readAll(t, readHistory)
			return len(rows) >= 2 && rows[0].IsDeclined && rows[1].IsDeclined
		}, 5*time.Second, 10*time.Millisecond)

		// A method registered after Mount is known at once.
		e.reg.Register(rpc.Method{ID: "/v1/late", Title: "Late", Permissions: []string{"*"},
			Handler: func(ctx context.Context) error { return nil }})
		assert.Equal(t, "/v1/late", e.history(t, "/v1/late").MethodID)
	})
}
