package calllog_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/calllog"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// openDSN opens a pool of its own on dsn, as another instance would.
func openDSN(t testing.TB, dsn string) *bun.DB {
	t.Helper()
	db, err := storage.Open(t.Context(), dsn, storage.WithMaxOpenConns(4))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// bothDSNs runs fn with the DSN of a fresh SQLite file and of a fresh
// PostgreSQL database (skipped without TEST_POSTGRES_DSN).
func bothDSNs(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storagetest.SQLiteDSN(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, storagetest.PostgresDSN(t)) })
}

// hit calls a method and returns the answer's HTTP status, or -1 when the
// answer breaks the wire format (rpctest.ReadAnswer); safe to use from any
// goroutine.
func hit(h http.Handler, id, token string) int {
	req := httptest.NewRequest(http.MethodPost, id, strings.NewReader(""))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	a, err := rpctest.ReadAnswer(rec.Result())
	if err != nil {
		return -1
	}
	return a.HTTP
}

// TestInstancesAddUp runs two instances (two registries, two pools, two
// modules) on one database, calling the same methods at the same time: the
// log and the statistics hold the calls of both.
func TestInstancesAddUp(t *testing.T) {
	bothDSNs(t, func(t *testing.T, dsn string) {
		a := newEnv(t, openDSN(t, dsn), fast(calllog.Options{}))
		b := newEnv(t, openDSN(t, dsn), fast(calllog.Options{}))

		type plan struct {
			id    string
			n     int
			code  int
			admin bool
		}
		plans := []plan{
			{mOK, 150, 200, false},
			{mFail, 40, 400, false},
			{mBoom, 10, 500, false},
			{mAdmin, 30, 401, false}, // -32801, declined
			{mAdmin, 20, 200, true},
		}
		var wg sync.WaitGroup
		for _, e := range []*env{a, b} {
			for _, p := range plans {
				wg.Go(func() {
					tok := ""
					if p.admin {
						tok = e.admin
					}
					for range p.n {
						assert.Equal(t, p.code, hit(e.reg, p.id, tok), p.id)
					}
				})
			}
		}
		wg.Wait()

		want := map[string]tally{
			mOK:    {accepted: 300},
			mFail:  {accepted: 80, errors: 80},
			mBoom:  {accepted: 20, errors: 20, exceptions: 20},
			mAdmin: {accepted: 40, declined: 60},
		}
		for _, e := range []*env{a, b} {
			// Polled on the test's own goroutine: the queries fail through t,
			// which require.Eventually's goroutine must not do.
			pollUntil(t, 10*time.Second, func() bool {
				for id, w := range want {
					if x, d, er, ex := sum(e.latest(t, id)); (tally{x, d, er, ex}) != w {
						return false
					}
					if x, d, er, ex := sum(e.history(t, id)); (tally{x, d, er, ex}) != w {
						return false
					}
				}
				return true
			})
		}
		for id, w := range want {
			rows := a.readAll(t, id)
			require.Len(t, rows, int(w.accepted+w.declined), id)
			// Maximum and average over both instances' calls, bucket by bucket.
			expectBuckets(t, rows, a.latest(t, id), time.Minute)
			expectBuckets(t, rows, b.history(t, id), 10*time.Minute)
		}
	})
}

// pollUntil calls cond every 20 ms on the calling goroutine until it
// holds, failing t after timeout.
func pollUntil(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
