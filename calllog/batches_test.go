package calllog_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// Calls are written in batches, and a batch can hold calls that started
// before some of an earlier batch's (a long call ends, and is queued,
// after shorter ones that started later): every page of read-log is still
// the rows in the order of their start (then of their ids), newest first,
// whatever the offset and limit.
func TestReadLogOrderAcrossBatches(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, fast(calllog.Options{}))
		base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		r := rand.New(rand.NewPCG(3, 4))
		const writes, perWrite = 6, 70
		for w := range writes {
			for range perWrite {
				// Mostly in order, some from far back: starts shared by
				// several rows, in the same write and in others.
				sec := w*perWrite + r.IntN(perWrite)
				if r.IntN(8) == 0 {
					sec = r.IntN(writes * perWrite)
				}
				e.mod.ObserveCall(rpc.CallRecord{Method: mOK, Start: base.Add(time.Duration(sec) * time.Second), Code: 200,
					Runtime: time.Duration(r.IntN(1000)) * time.Millisecond, StatusText: "OK"})
			}
			written := uint64((w + 1) * perWrite)
			require.Eventually(t, func() bool { return e.mod.Stats().Written == written }, 5*time.Second, time.Millisecond)
		}
		all := e.readAll(t, mOK)
		require.Len(t, all, writes*perWrite)
		want := slices.Clone(all)
		slices.SortStableFunc(want, func(a, b row) int {
			if c := b.Date.Compare(a.Date); c != 0 {
				return c
			}
			ai, _ := strconv.ParseInt(a.ID, 10, 64)
			bi, _ := strconv.ParseInt(b.ID, 10, 64)
			return cmp.Compare(bi, ai)
		})
		require.Equal(t, want, all, "newest first, then by id")
		for _, p := range []struct{ offset, limit int }{{0, 1}, {0, 100}, {1, 7}, {69, 2}, {70, 100}, {137, 50}, {400, 100}, {419, 1}, {420, 5}} {
			var page []row
			body, _ := json.Marshal([]any{map[string]any{"where": map[string]any{"method_id": mOK}, "offset": p.offset, "limit": p.limit}})
			e.ok(t, readLog, string(body), &page)
			end := min(p.offset+p.limit, len(want))
			require.Equal(t, want[min(p.offset, end):end], page, "offset %d, limit %d", p.offset, p.limit)
		}
	})
}

// A log stored one row per call (schema version 3) is packed into batches
// on upgrade, in pieces (more rows than one read takes), keeping every
// row, its id and its order; new rows come after them.
func TestUpgradePacksRows(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 25,000 rows")
	}
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		require.NoError(t, calllog.MigrateTo(ctx, db, 3))
		const n = 25_000
		base := int64(1_700_000_000_000_000) // Unix microseconds
		fill := `
WITH RECURSIVE s (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
INSERT INTO calllog_calls (id, method, user_id, date, runtime, status, status_text, flags)
SELECT i, 1 + i % 3, CASE WHEN i % 2 = 0 THEN i END, ? + (i % 1000) * 1000 + i / 7, i * 1000,
	CASE WHEN i % 5 = 0 THEN 400 ELSE 200 END, CASE WHEN i % 10 = 0 THEN 'bad ' || i END, i % 8
FROM s`
		if storage.IsPostgres(db) {
			fill = `
INSERT INTO calllog_calls (id, method, user_id, date, runtime, status, status_text, flags)
SELECT i, 1 + i % 3, CASE WHEN i % 2 = 0 THEN i END,
	timestamptz 'epoch' + ((? + (i % 1000) * 1000 + i / 7) * interval '1 microsecond'), i * 1000,
	CASE WHEN i % 5 = 0 THEN 400 ELSE 200 END, CASE WHEN i % 10 = 0 THEN 'bad ' || i END, i % 8
FROM generate_series(1, ?) AS i`
		}
		_, err := db.ExecContext(ctx, "INSERT INTO calllog_methods (id, name) VALUES (1, ?), (2, ?), (3, ?)", mOK, mFail, mBoom)
		require.NoError(t, err)
		args := []any{n, base}
		if storage.IsPostgres(db) {
			args = []any{base, n}
		}
		_, err = db.ExecContext(ctx, fill, args...)
		require.NoError(t, err)

		e := newEnv(t, db, fast(calllog.Options{}))
		for m, method := range []string{mOK, mFail, mBoom} {
			var want []row
			for i := 1; i <= n; i++ {
				if 1+i%3 != m+1 {
					continue
				}
				r := row{ID: strconv.Itoa(i), MethodID: method, Date: time.UnixMicro(base + int64(i%1000)*1000 + int64(i/7)).UTC(),
					Runtime: float64(i) / 1000, Status: 200, StatusText: "OK", IsDeclined: i%8&1 != 0, IsError: i%8&2 != 0, IsException: i%8&4 != 0}
				if i%5 == 0 {
					r.Status, r.StatusText = 400, "Bad Request"
				}
				if i%10 == 0 {
					r.StatusText = fmt.Sprintf("bad %d", i)
				}
				if i%2 == 0 {
					r.UserID = ptr(strconv.Itoa(i))
				}
				want = append(want, r)
			}
			slices.SortStableFunc(want, func(a, b row) int {
				if c := b.Date.Compare(a.Date); c != 0 {
					return c
				}
				ai, _ := strconv.Atoi(a.ID)
				bi, _ := strconv.Atoi(b.ID)
				return cmp.Compare(bi, ai)
			})
			for _, offset := range []int{0, 100, 4_000, len(want) - 50} {
				var page []row
				body, _ := json.Marshal([]any{map[string]any{"where": map[string]any{"method_id": method}, "offset": offset}})
				a := e.ok(t, readLog, string(body), &page)
				require.EqualValues(t, len(want), a.Meta["total"], method)
				require.Equal(t, want[offset:min(offset+100, len(want))], page, "%s, offset %d", method, offset)
			}
		}

		require.Equal(t, 200, e.c.Post(t, mOK, `["x"]`).Code)
		var newest []row
		require.Eventually(t, func() bool {
			a := e.ok(t, readLog, `[{"where":{"method_id":"`+mOK+`"},"limit":1}]`, &newest)
			return a.Meta["total"] == float64(n/3+1)
		}, 5*time.Second, 10*time.Millisecond)
		id, err := strconv.ParseInt(newest[0].ID, 10, 64)
		require.NoError(t, err)
		require.Greater(t, id, int64(n), "a new row's id follows the old ones")
	})
}
