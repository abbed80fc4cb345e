package audit_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/audit"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// A host method's change is recorded with the caller, the target, the
// fields, the address and the user agent; a change whose transaction
// fails leaves no entry, because the entry was in that transaction.
func TestRecordInTheChangesTransaction(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, audit.Options{})
		e.clock.Waits(t, 1) // the first cleanup is done
		c := e.c.As(e.admin).From("203.0.113.9:4000").With("User-Agent", "audit-test/1.0")
		require.Equal(t, http.StatusOK, c.Call(t, "/v1/host/rename", "42", "new name").HTTP)
		a := c.Call(t, "/v1/host/rename", "43", "fail")
		require.Equal(t, http.StatusInternalServerError, a.HTTP, a.Raw)
		require.Equal(t, http.StatusOK, e.c.As(e.plain).From("[2001:db8::7]:5000").Call(t, "/v1/host/rename", "44", "by token").HTTP)

		rows, total := e.read(t, "")
		require.Equal(t, 2, total)
		require.Len(t, rows, 2)
		tok, ses := rows[0], rows[1] // newest first
		assert.Equal(t, "things.rename", ses.Action)
		assert.Equal(t, "7", *ses.ActorID)
		assert.Equal(t, audit.ActorSession, ses.ActorKind)
		assert.Equal(t, "70", *ses.ActorTokenID)
		assert.Equal(t, "42", *ses.TargetID)
		assert.JSONEq(t, `{"name":"new name"}`, string(ses.Changes))
		assert.Equal(t, "203.0.113.9", *ses.RemoteAddress)
		assert.Equal(t, "audit-test/1.0", *ses.UserAgent)
		assert.Equal(t, audit.ResultOK, ses.Result)
		assert.Equal(t, e.clock.Now(), ses.Created)

		assert.Equal(t, "8", *tok.ActorID)
		assert.Equal(t, audit.ActorToken, tok.ActorKind)
		assert.Equal(t, "80", *tok.ActorTokenID)
		assert.Equal(t, "2001:db8::7", *tok.RemoteAddress)
	})
}

// read filters by actor, target, action and a range of times, and pages.
func TestReadFilters(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, audit.Options{})
		e.clock.Waits(t, 1)
		start := e.clock.Now()
		for i := range 5 {
			who := e.admin
			if i%2 == 1 {
				who = e.plain
			}
			e.clock.Advance(time.Minute)
			require.Equal(t, http.StatusOK, e.c.As(who).Call(t, "/v1/host/rename", fmt.Sprint(100+i%3), fmt.Sprint("n", i)).HTTP)
		}
		_, total := e.read(t, `{"where":{"actor_id":"8"}}`)
		assert.Equal(t, 2, total)
		rows, total := e.read(t, `{"where":{"target_id":"100"}}`)
		assert.Equal(t, 2, total)
		for _, r := range rows {
			assert.Equal(t, "100", *r.TargetID)
		}
		_, total = e.read(t, `{"where":{"action":"things.rename"}}`)
		assert.Equal(t, 5, total)
		_, total = e.read(t, `{"where":{"action":"users.delete"}}`)
		assert.Equal(t, 0, total)
		from, to := start.Add(90*time.Second).Format(time.RFC3339), start.Add(4*time.Minute+30*time.Second).Format(time.RFC3339)
		rows, total = e.read(t, `{"where":{"created":[">","`+from+`"]}}`)
		assert.Equal(t, 4, total)
		assert.Len(t, rows, 4)
		rows, total = e.read(t, `{"where":{"created":[">","`+from+`"],"actor_id":"7"},"order_by":[["created","asc"]]}`)
		require.Equal(t, 2, total)
		assert.True(t, rows[0].Created.Before(rows[1].Created))
		_, total = e.read(t, `{"where":{"created":["<","`+to+`"]}}`)
		assert.Equal(t, 4, total)
		_, total = e.read(t, `{"where":{"created_from":[">=","`+from+`"],"created_to":["<","`+to+`"]}}`)
		assert.Equal(t, 3, total, "a range of times")

		page1, total := e.read(t, `{"limit":2}`)
		page2, _ := e.read(t, `{"limit":2,"offset":2}`)
		assert.Equal(t, 5, total)
		require.Len(t, page1, 2)
		require.Len(t, page2, 2)
		assert.Greater(t, page1[1].ID, page2[0].ID, "newest first, pages follow each other")

		one := e.c.As(e.admin).Post(t, audit.Prefix+"/read", fmt.Sprintf(`[{"id":"%d"}]`, page2[0].ID))
		require.Equal(t, http.StatusOK, one.HTTP, one.Raw)
		var r audit.Record
		one.Decode(t, &r)
		assert.Equal(t, page2[0].ID, r.ID)
	})
}

// Bad options are refused with a message naming what is wrong; callers
// without the permission are refused; nothing is stored by reading.
func TestReadBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.SQLite(t), audit.Options{})
	for _, tc := range []struct{ options, want string }{
		{`{"where":{"user_agent":"x"}}`, "user_agent"},
		{`{"where":{"actor_id":["<","7"]}}`, "actor_id"},
		{`{"where":{"actor_id":"seven"}}`, "actor_id"},
		{`{"where":{"created":"2030-01-01T00:00:00Z"}}`, "created"},
		{`{"where":{"created":[">","yesterday"]}}`, "created"},
		{`{"where":{"created_from":["<","2030-01-01T00:00:00Z"]}}`, "created_from"},
		{`{"order_by":"actor_id"}`, "actor_id"},
		{`{"limit":-1}`, "limit"},
		{`"everything"`, "options"},
	} {
		a := e.c.As(e.admin).Post(t, audit.Prefix+"/read", "["+tc.options+"]")
		assert.Equal(t, http.StatusBadRequest, a.HTTP, "%s: %s", tc.options, a.Raw)
		assert.Contains(t, a.Message, tc.want, tc.options)
	}
	assert.Equal(t, rpc.CodeInsufficientPermissions, e.c.As(e.plain).Call(t, audit.Prefix+"/read").Code)
	assert.Equal(t, rpc.CodeInsufficientPermissions, e.c.Call(t, audit.Prefix+"/read").Code)
	_, total := e.read(t, "")
	assert.Zero(t, total)
}

// Secrets never reach a row, even when a caller passes one as a change;
// the user agent is bounded and made storable.
func TestRecordMasksSecretsAndCleansText(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, audit.Options{})
		long := strings.Repeat("é", 400) // 800 bytes
		a := e.c.As(e.admin).With("User-Agent", long).Call(t, "/v1/host/rename", "1", "x", "hunter2-very-secret")
		require.Equal(t, http.StatusOK, a.HTTP, a.Raw)
		rows, _ := e.read(t, "")
		require.Len(t, rows, 1)
		assert.JSONEq(t, `{"name":"x","api_secret":true}`, string(rows[0].Changes))
		assert.Len(t, *rows[0].UserAgent, 512)
		assert.True(t, strings.HasPrefix(long, *rows[0].UserAgent))
		var stored []string
		require.NoError(t, db.NewSelect().Table("authrpc_audit").ColumnExpr("changes").Scan(t.Context(), &stored))
		assert.NotContains(t, strings.Join(stored, " "), "hunter2")
	})
}

// Entries older than Retention are deleted by the cleanup, which waits on
// the injected clock.
func TestRetention(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, audit.Options{})
		assert.Equal(t, []time.Duration{audit.DefaultCleanupInterval}, e.clock.Waits(t, 1))
		require.Equal(t, http.StatusOK, e.c.As(e.admin).Call(t, "/v1/host/rename", "1", "old").HTTP)
		e.clock.Advance(200 * 24 * time.Hour) // fires the wait: a round that deletes nothing
		e.clock.Waits(t, 1)
		require.Equal(t, http.StatusOK, e.c.As(e.admin).Call(t, "/v1/host/rename", "2", "new").HTTP)
		_, total := e.read(t, "")
		require.Equal(t, 2, total)

		e.clock.Advance(170 * 24 * time.Hour) // the first is 370 days old, the second 170
		e.clock.Waits(t, 1)
		rows, total := e.read(t, "")
		require.Equal(t, 1, total)
		assert.Equal(t, "2", *rows[0].TargetID)

		n, err := e.mod.Cleanup(t.Context())
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

// A shorter Retention and another CleanupInterval are kept to.
func TestRetentionOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.SQLite(t), audit.Options{Retention: 24 * time.Hour, CleanupInterval: 10 * time.Minute})
	assert.Equal(t, []time.Duration{10 * time.Minute}, e.clock.Waits(t, 1))
	require.Equal(t, http.StatusOK, e.c.As(e.admin).Call(t, "/v1/host/rename", "1", "x").HTTP)
	e.clock.Advance(24*time.Hour + time.Minute)
	e.clock.Waits(t, 1)
	_, total := e.read(t, "")
	assert.Zero(t, total)
}
