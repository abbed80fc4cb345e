package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage/storagetest"
)

// Two instances of the example app on one PostgreSQL database, as behind a
// load balancer: what one changes, the other honours (within a second: the
// waits are generous, the times logged), even right after its notification
// connection was killed; the call log adds up.
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t) // skips, saying why, without TEST_POSTGRES_DSN
	a, b := startApp(t, dsn), startApp(t, dsn)

	root := a.signin(t, "root", "root-password-for-tests")
	r := a.call(t, root, "/v1/admin/users/create", `[{"username":"ann","password":"ann-password","permissions":{"admin":true}}]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	ann := b.signin(t, "ann", "ann-password") // a session made on b

	// A token made on a, used on b.
	r = a.call(t, ann, "/v1/api-tokens/create", `["ci"]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	var tok struct{ ID, Token string }
	require.NoError(t, json.Unmarshal(r.Result.Data, &tok))
	id := `"` + tok.ID + `"`
	require.Equal(t, 200, a.call(t, ann, "/v1/api-tokens/set-permissions", `[`+id+`, {"admin": true}]`).code())
	require.Equal(t, 200, b.call(t, tok.Token, "/v1/admin/users/read", ``).code(), "b authenticates the token and caches it")
	require.Equal(t, 200, b.call(t, tok.Token, "/v1/admin/users/read", ``).code())

	// Refused once the change reaches inst: its cache drops the caller
	// when the invalidation arrives, or reads through while it cannot
	// listen, so there is no one event to wait for. Meanwhile the call
	// is allowed, never anything else.
	refusedWithin := func(t *testing.T, inst *testApp, token, method string) time.Duration {
		t.Helper()
		return until(t, "refused on the other instance", func() bool {
			r := inst.call(t, token, method, ``)
			if r.code() == -32801 {
				return true
			}
			require.Equal(t, 200, r.code(), r.Raw)
			return false
		})
	}

	t.Run("token disabled on a, refused on b", func(t *testing.T) {
		require.Equal(t, 200, a.call(t, ann, "/v1/api-tokens/set-enabled", `[`+id+`, false]`).code())
		t.Logf("refused on b after %s", refusedWithin(t, b, tok.Token, "/v1/admin/users/read"))
		require.Equal(t, 200, a.call(t, ann, "/v1/api-tokens/set-enabled", `[`+id+`, true]`).code())
		require.Equal(t, 200, b.call(t, tok.Token, "/v1/admin/users/read", ``).code())
	})

	t.Run("permission taken on a, refused on b", func(t *testing.T) {
		require.Equal(t, 200, b.call(t, ann, "/v1/admin/users/read", ``).code(), "ann's session is cached on b")
		require.Equal(t, 200, a.call(t, root, "/v1/admin/users/update-permissions", `["ann", {"admin": false}]`).code())
		t.Logf("session refused on b after %s", refusedWithin(t, b, ann, "/v1/admin/users/read"))
		t.Logf("token refused on b after %s", refusedWithin(t, b, tok.Token, "/v1/admin/users/read"))
		require.Equal(t, 200, a.call(t, root, "/v1/admin/users/update-permissions", `["ann", {"admin": true}]`).code())
	})

	t.Run("signout on b ends the session on a", func(t *testing.T) {
		s := a.signin(t, "ann", "ann-password")
		require.Equal(t, 200, a.call(t, s, "/v1/profile/read", ``).code())
		require.Equal(t, 200, b.call(t, s, "/v1/session/signout", ``).code())
		t.Logf("refused on a after %s", refusedWithin(t, a, s, "/v1/profile/read"))
	})

	t.Run("settings updated on a, seen on b", func(t *testing.T) {
		r := a.call(t, root, "/v1/admin/settings/update", `[{"signup_enabled": true, "app_url": "https://a.example"}]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		took := until(t, "signup open on b", func() bool {
			r := b.call(t, "", "/v1/session/signup", `[{"username":"late","password":"late-password"}]`)
			if r.code() == 200 {
				return true
			}
			require.Equal(t, 403, r.code(), r.Raw) // nothing else is acceptable meanwhile
			return false
		})
		t.Logf("signup opened on b after %s", took)
		r = b.call(t, root, "/v1/admin/settings/read", ``)
		assert.Contains(t, r.Raw, `"app_url":"https://a.example"`)
	})

	t.Run("killed notification connections", func(t *testing.T) {
		require.Equal(t, 200, b.call(t, tok.Token, "/v1/admin/users/read", ``).code(), "cached on b")
		killListeners(t, a.db)
		// Whatever b missed while reconnecting, it must not serve the stale
		// token: it reads through until it listens again, then starts afresh.
		require.Equal(t, 200, a.call(t, ann, "/v1/api-tokens/set-enabled", `[`+id+`, false]`).code())
		t.Logf("refused on b after %s", refusedWithin(t, b, tok.Token, "/v1/admin/users/read"))

		r := a.call(t, root, "/v1/admin/settings/update", `[{"signup_enabled": false}]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		killListeners(t, a.db)
		r = a.call(t, root, "/v1/admin/settings/update", `[{"app_url": "https://after-kill.example"}]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		until(t, "b sees the settings stored while its listener was down", func() bool {
			return strings.Contains(b.call(t, root, "/v1/admin/settings/read", ``).Raw, "https://after-kill.example")
		})
	})

	t.Run("the call log adds up across instances", func(t *testing.T) {
		for i := 0; i < 7; i++ {
			require.Equal(t, 200, a.call(t, "", "/v1/test/test", fmt.Sprintf(`["a%d"]`, i)).code())
		}
		for i := 0; i < 5; i++ {
			require.Equal(t, 200, b.call(t, "", "/v1/test/test", fmt.Sprintf(`["b%d"]`, i)).code())
		}
		require.Equal(t, -32808, b.call(t, "", "/v1/test/test", `[1]`).code())
		// Each instance merges its own counts every few seconds (the call
		// log's StatsInterval, 5 s): no event says when.
		var accepted, errs int
		untilWithin(t, 15*time.Second, "read-latest-stat shows 13 accepted and 1 error", func() bool {
			accepted, errs = latestTotals(t, a, root, "/v1/test/test")
			return accepted == 13 && errs == 1
		})
	})
}

// killListeners terminates the LISTEN connections of every instance on the
// database, as a network failure or a restarted pooler would.
func killListeners(t *testing.T, db *bun.DB) {
	t.Helper()
	// Both instances listen again (after an earlier kill) before this one.
	require.Eventually(t, func() bool {
		var n int
		err := db.QueryRowContext(context.Background(), `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'authrpc_sync'`).Scan(&n)
		return err == nil && n == 2
	}, 10*time.Second, 10*time.Millisecond)
	var killed int
	err := db.QueryRowContext(context.Background(), `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'authrpc_sync' AND pid <> pg_backend_pid()`).Scan(&killed)
	require.NoError(t, err)
	require.Equal(t, 2, killed, "one listening connection per instance")
}

// latestTotals sums the last hour's buckets of a method's latest statistics.
func latestTotals(t *testing.T, a *testApp, token, method string) (accepted, errs int) {
	t.Helper()
	r := a.call(t, token, "/v1/admin/api-call-log/read-latest-stat", `["`+method+`"]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	var stats []struct {
		Buckets []struct {
			Accepted int `json:"total_accepted"`
			Errors   int `json:"total_errors"`
		} `json:"buckets"`
	}
	require.NoError(t, json.Unmarshal(r.Result.Data, &stats), r.Raw)
	require.Len(t, stats, 1)
	for _, b := range stats[0].Buckets {
		accepted += b.Accepted
		errs += b.Errors
	}
	return accepted, errs
}
