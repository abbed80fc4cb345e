package calllog_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// oldRow is a row of the calls table as versions 1 and 2 of the schema
// stored it.
type oldRow struct {
	bun.BaseModel `bun:"table:calllog_calls"`

	ID          int64     `bun:"id,pk,autoincrement"`
	MethodID    string    `bun:"method_id"`
	UserID      *int64    `bun:"user_id"`
	Date        time.Time `bun:"date"`
	Runtime     float64   `bun:"runtime"`
	Status      int       `bun:"status"`
	StatusText  string    `bun:"status_text"`
	IsDeclined  bool      `bun:"is_declined"`
	IsError     bool      `bun:"is_error"`
	IsException bool      `bun:"is_exception"`
}

// TestUpgradeKeepsRows writes rows as the previous schema stored them
// (dates with every number of fractional digits, guests and users, each
// flag) and mounts the call log on that database: read-log answers them
// as they were, and new rows come after them.
func TestUpgradeKeepsRows(t *testing.T) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		require.NoError(t, calllog.MigrateTo(t.Context(), db, 2))
		user := int64(7)
		base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		old := []oldRow{
			{MethodID: mOK, UserID: &user, Date: base, Runtime: 1.5, Status: 200, StatusText: "OK"},
			{MethodID: mOK, Date: base.Add(100 * time.Millisecond), Runtime: 0.000123, Status: 200, StatusText: "OK"},
			{MethodID: mOK, Date: base.Add(120 * time.Microsecond), Runtime: 12, Status: 403, StatusText: "Forbidden", IsDeclined: true},
			{MethodID: mOK, Date: base.Add(123456 * time.Microsecond), Runtime: 0, Status: 200, StatusText: "OK"},
			{MethodID: mFail, UserID: &user, Date: base.Add(-time.Minute + 7*time.Microsecond), Runtime: 3.25,
				Status: 400, StatusText: `no "good" input`, IsError: true},
			{MethodID: mFail, Date: base.Add(2*time.Second + 10*time.Millisecond), Runtime: 40, Status: 500,
				StatusText: "Internal Server Error", IsError: true, IsException: true},
		}
		_, err := db.NewInsert().Model(&old).Exec(t.Context())
		require.NoError(t, err)

		e := newEnv(t, db, fast(calllog.Options{}))
		for _, method := range []string{mOK, mFail} {
			var want []row
			for _, o := range old {
				if o.MethodID == method {
					want = append(want, asRead(o))
				}
			}
			slices.SortFunc(want, func(a, b row) int { return b.Date.Compare(a.Date) })
			assert.Equal(t, want, e.readAll(t, method), method)
		}

		require.Equal(t, 200, e.c.Post(t, mOK, `["x"]`).Code)
		require.Eventually(t, func() bool { return len(e.readAll(t, mOK)) == 5 }, 5*time.Second, 10*time.Millisecond)
		newest := e.readAll(t, mOK)[0]
		id, err := strconv.ParseInt(newest.ID, 10, 64)
		require.NoError(t, err)
		assert.Greater(t, id, old[len(old)-1].ID, "a new row's id follows the old ones")
		assert.Equal(t, "OK", newest.StatusText)
	})
}

// asRead is an old row as read-log answers it.
func asRead(o oldRow) row {
	r := row{ID: strconv.FormatInt(o.ID, 10), MethodID: o.MethodID, Date: o.Date, Runtime: o.Runtime,
		Status: o.Status, StatusText: o.StatusText, IsDeclined: o.IsDeclined, IsError: o.IsError, IsException: o.IsException}
	if o.UserID != nil {
		s := strconv.FormatInt(*o.UserID, 10)
		r.UserID = &s
	}
	// Through JSON, as the wire carries it.
	raw, _ := json.Marshal(r)
	var out row
	_ = json.Unmarshal(raw, &out)
	return out
}
