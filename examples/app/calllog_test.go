package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type callStats struct {
	MethodID string `json:"method_id"`
	Buckets  []struct {
		TotalAccepted   int `json:"total_accepted"`
		TotalDeclined   int `json:"total_declined"`
		TotalErrors     int `json:"total_errors"`
		TotalExceptions int `json:"total_exceptions"`
	} `json:"buckets"`
}

func (s callStats) totals() [4]int {
	var t [4]int
	for _, b := range s.Buckets {
		t[0] += b.TotalAccepted
		t[1] += b.TotalDeclined
		t[2] += b.TotalErrors
		t[3] += b.TotalExceptions
	}
	return t
}

// Calls made through the example app, with its default call-log settings,
// show up in read-log and in both statistics within the stated lag (10 s for
// the latest, a minute for the history).
func TestCallLog(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		root := a.signin(t, "root", "root-password-for-tests")
		for range 3 {
			require.Equal(t, 200, a.call(t, "", "/v1/test/test", `["hi"]`).code())
		}
		require.Equal(t, -32808, a.call(t, root, "/v1/test/test", `[5]`).code())
		for range 2 {
			require.Equal(t, -32801, a.call(t, "", "/v1/admin/users/read", ``).code())
		}
		done := time.Now()

		readLog := func(method string) (rows []struct {
			UserID     *string `json:"user_id"`
			Status     int     `json:"status"`
			IsDeclined bool    `json:"is_declined"`
		}) {
			r := a.call(t, root, "/v1/admin/api-call-log/read-log", `[{"where":{"method_id":"`+method+`"}}]`)
			require.Equal(t, 200, r.HTTP, r.Raw)
			require.NoError(t, json.Unmarshal(r.Result.Data, &rows))
			return rows
		}
		require.Eventually(t, func() bool { return len(readLog("/v1/test/test")) == 4 }, 10*time.Second, 50*time.Millisecond)
		rows := readLog("/v1/test/test")
		assert.Equal(t, -32808, rows[0].Status)
		assert.Equal(t, "1", *rows[0].UserID, "root")
		assert.Nil(t, rows[1].UserID, "a guest")
		require.Eventually(t, func() bool { return len(readLog("/v1/admin/users/read")) == 2 }, 10*time.Second, 50*time.Millisecond)
		assert.True(t, readLog("/v1/admin/users/read")[0].IsDeclined)

		stat := func(method, params string) callStats {
			r := a.call(t, root, method, params)
			require.Equal(t, 200, r.HTTP, r.Raw)
			var list []callStats
			if r.Result.Data[0] == '[' {
				require.NoError(t, json.Unmarshal(r.Result.Data, &list))
			} else {
				list = make([]callStats, 1)
				require.NoError(t, json.Unmarshal(r.Result.Data, &list[0]))
			}
			require.Len(t, list, 1)
			return list[0]
		}
		for _, c := range []struct {
			method string
			lag    time.Duration
		}{
			{"/v1/admin/api-call-log/read-latest-stat", 10 * time.Second},
			{"/v1/admin/api-call-log/read-history-stat", time.Minute},
		} {
			require.Eventually(t, func() bool {
				return stat(c.method, `["/v1/test/test"]`).totals() == [4]int{4, 0, 1, 0} &&
					stat(c.method, `["/v1/admin/users/read"]`).totals() == [4]int{0, 2, 0, 0}
			}, c.lag-time.Since(done), 100*time.Millisecond, c.method)
			t.Logf("%s: caught up %s after the calls", c.method, time.Since(done).Round(time.Millisecond))
		}
	})
}
