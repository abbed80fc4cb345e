package users_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/mailer/mailertest"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// The names of the tables the module makes (and the rate limits and the
// record of migrations it uses), without a prefix.
var unprefixed = []string{"users", "user_sessions", "user_tokens", "user_totp", "user_recovery_codes", "authrpc_rate_limits", "authrpc_migrations"}

func withPrefix(prefix string) func(*users.Options) {
	return func(o *users.Options) { o.TablePrefix = prefix }
}

// Under a table prefix, every method and every Go call of the module uses
// the prefixed tables only, beside a host's own users table, which stays
// as it was.
func TestTablePrefixEveryPath(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		own := bun.NewDB(db.DB, db.Dialect()) // the test's queries, unrecorded
		_, err := own.ExecContext(ctx, "CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT NOT NULL UNIQUE)")
		require.NoError(t, err)
		_, err = own.ExecContext(ctx, "INSERT INTO users (id, login) VALUES (1, 'root'), (100, 'carol')")
		require.NoError(t, err)
		host := hostUsers(t, own)
		db, queries := storagetest.RecordQueries(db)

		srv := mailertest.NewServer(t, mailertest.Options{Username: smtpUser, Password: smtpPassword})
		ring := testKeyring(t)
		e := newEnv(t, db, withMail(srv), withPrefix("app_"), withQueryHooks, func(o *users.Options) { o.Keyring = ring }) // every read recorded
		root := e.root(t)

		carol := e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		assert.Equal(t, "100", carol.ID, "the module's ids start at 100 in its own table")
		e.create(t, root, "dave", "dave-password", map[string]bool{"reports": true})
		a := e.ok(t, root, "/v1/admin/users/read", map[string]any{"where": map[string]any{"search": []string{"like", "CAR"}}})
		assert.Equal(t, float64(1), a.Meta["total"])
		var names []string
		e.ok(t, root, "/v1/admin/users/suggest", map[string]any{"where": map[string]any{"name": []string{"like", "da"}}}).Decode(t, &names)
		assert.Equal(t, []string{"dave"}, names)
		e.ok(t, root, "/v1/admin/users/get-permissions", "dave")
		e.ok(t, root, "/v1/admin/users/set-permissions", "dave", map[string]bool{"billing": true})
		e.ok(t, root, "/v1/admin/users/update-permissions", "dave", map[string]bool{"reports": true})
		e.ok(t, root, "/v1/admin/users/set-enabled", "dave", false)
		e.ok(t, root, "/v1/admin/users/set-enabled", "dave", true)
		e.ok(t, root, "/v1/admin/users/set-password", "dave", "dave-password-2")
		e.ok(t, root, "/v1/admin/users/set-username", "dave", "david", "dave-password-3")

		david := e.signin(t, "david", "dave-password-3")
		e.ok(t, david, "/v1/profile/set-email", "david@example.com")
		e.ok(t, david, "/v1/profile/set-telegram-username", "david_tg")
		assert.Equal(t, "david@example.com", *e.profile(t, david).Email)

		e.ok(t, "", sendConfirm, "david")
		e.ok(t, "", confirmEmail, linkToken(t, srv.Wait(t, 1, 5*time.Second), "/confirm-email"))
		assert.True(t, e.profile(t, david).EmailConfirmed)
		e.ok(t, "", sendReset, "carol@example.com")
		e.ok(t, "", setPassword, linkToken(t, srv.Wait(t, 2, 5*time.Second), "/reset-password"), "carol-new-password")
		carolTok := e.signin(t, "carol", "carol-new-password")
		e.ok(t, carolTok, "/v1/session/signout")

		secret, codes := e.enrolTOTP(t, david, "dave-password-3")
		e.ok(t, david, "/v1/session/authorize", map[string]any{"totp_code": e.code(t, secret, 1)})
		tok := e.secondFactor(t, "david", "dave-password-3", "recovery_code", "totp")
		e.ok(t, "", "/v1/session/signin", map[string]any{"second_factor_token": tok, "recovery_code": codes[0]})
		e.ok(t, david, "/v1/profile/get-second-factors")
		e.ok(t, david, "/v1/profile/new-recovery-codes")
		e.ok(t, david, "/v1/profile/remove-totp")
		e.enrolTOTP(t, david, "dave-password-3")
		e.ok(t, root, "/v1/session/authorize", map[string]string{"password": rootPassword})
		e.ok(t, root, "/v1/admin/users/remove-factors", "david")
		e.ok(t, root, "/v1/admin/users/delete", "david")

		u, _, err := e.mod.Create(ctx, users.NewUser{Username: "erin", Email: "erin@example.com"})
		require.NoError(t, err)
		found, err := e.mod.FindByName(ctx, "ERIN")
		require.NoError(t, err)
		assert.Equal(t, u.ID, found.ID)
		found, err = e.mod.FindByEmail(ctx, "erin@example.com")
		require.NoError(t, err)
		assert.Equal(t, u.ID, found.ID)
		require.NoError(t, e.mod.SetPassword(ctx, u.ID, "erin-password"))
		require.NoError(t, e.mod.SetPermissions(ctx, u.ID, map[string]bool{"billing": true}))
		require.NoError(t, e.mod.SetEnabled(ctx, u.ID, false))
		require.NoError(t, e.mod.Delete(ctx, u.ID))
		_, err = e.mod.Lookup(ctx, u.ID)
		assert.ErrorIs(t, err, users.ErrNotFound)
		e.drain(t) // the mail workers and the cleanup have run their queries

		for _, table := range unprefixed {
			assert.Empty(t, queries.Naming(table), "a query names %s without the prefix", table)
			assert.NotEmpty(t, queries.Naming("app_"+table), "app_%s", table)
		}
		assert.Equal(t, host, hostUsers(t, own), "the host's users table is untouched")
		if storage.IsPostgres(db) {
			assert.Equal(t, []string{"app_users_email_trgm_idx", "app_users_name_trgm_idx", "app_users_telegram_name_trgm_idx"},
				trigramIndexesOn(t, own, "app_users"))
			assert.NotContains(t, e.logs.String(), "trigram indexes are missing", "the check at start finds the prefixed indexes")
			assert.NotContains(t, e.logs.String(), "no trigram indexes")
		} else {
			assert.Equal(t, []string{"table app_users_search app_users_search", "trigger app_users_search_delete app_users",
				"trigger app_users_search_insert app_users", "trigger app_users_search_update app_users"}, searchObjects(t, own))
		}
	})
}

// searchObjects lists SQLite's trigram search index and its triggers:
// type, name and table.
func searchObjects(t *testing.T, db *bun.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT type || ' ' || name || ' ' || tbl_name FROM sqlite_master
		WHERE type = 'trigger' OR sql LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name`)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// Mounted twice under two prefixes, the module keeps two sets of users,
// sessions and mail tokens; a session of one is a guest in the other.
func TestTablePrefixTwice(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		a := newEnv(t, db, withPrefix("a_"))
		b := newEnv(t, db, withPrefix("b_"), func(o *users.Options) { o.RootPassword = "root-password-b" })

		aRoot := a.root(t)
		ann := a.create(t, aRoot, "ann", "ann-password", map[string]bool{"admin": true})
		b.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "ann", "password": "ann-password"})
		b.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "root", "password": rootPassword})
		b.refused(t, 401, aRoot, "/v1/session/signin")
		bRoot := b.signin(t, "root", "root-password-b")
		b.refused(t, 404, bRoot, "/v1/admin/users/delete", "ann")
		bAnn := b.create(t, bRoot, "ann", "other-password", nil)
		assert.Equal(t, ann.ID, bAnn.ID, "each table numbers its users from 100")

		b.ok(t, bRoot, "/v1/admin/users/delete", "ann")
		annTok := a.signin(t, "ann", "ann-password")
		assert.Equal(t, "ann", a.profile(t, annTok).Name, "b's delete left a's ann")
		assert.Equal(t, 2, countRows(t, db, "a_users"))
		assert.Equal(t, 1, countRows(t, db, "b_users"))
		assert.Equal(t, 2, countRows(t, db, "a_user_sessions"))
		assert.Equal(t, 1, countRows(t, db, "b_user_sessions"))
	})
}

func hostUsers(t *testing.T, db *bun.DB) string {
	t.Helper()
	var rows []map[string]any
	require.NoError(t, db.NewSelect().Table("users").OrderExpr("id").Scan(context.Background(), &rows))
	return fmt.Sprint(rows)
}

func trigramIndexesOn(t *testing.T, db *bun.DB, table string) []string {
	t.Helper()
	var names []string
	require.NoError(t, db.NewSelect().TableExpr("pg_indexes").Column("indexname").
		Where("tablename = ? AND indexname LIKE '%trgm%'", table).Order("indexname").Scan(context.Background(), &names))
	return names
}

func countRows(t *testing.T, db *bun.DB, table string) int {
	t.Helper()
	n, err := db.NewSelect().Table(table).Count(context.Background())
	require.NoError(t, err)
	return int(n)
}
