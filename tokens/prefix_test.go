package tokens_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/logbuf"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/tokens"
	"github.com/authrpc/authrpc/users"
)

// unprefixed are the names of every table the modules make, without a
// prefix: none may appear in a query made under one.
var unprefixed = []string{
	"users", "user_sessions", "user_tokens", "api_tokens",
	"authrpc_settings", "authrpc_rate_limits", "authrpc_migrations",
}

// A host that has a users and an api_tokens table of its own mounts users,
// tokens and settings under a table prefix; then a second service mounts
// them under another prefix on the same database. Everything goes through
// the handler; the host's tables stay as they were and the two services
// see nothing of each other.
func TestTablePrefix(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		// The test's own queries go through a handle without the recorder.
		own := bun.NewDB(db.DB, db.Dialect())
		for _, q := range []string{
			"CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, full_name TEXT)",
			"INSERT INTO users (id, email, full_name) VALUES (1, 'ceo@host.example', 'The CEO'), (100, 'dev@host.example', NULL)",
			"CREATE TABLE api_tokens (id INTEGER PRIMARY KEY, label TEXT NOT NULL)",
			"INSERT INTO api_tokens (id, label) VALUES (1, 'billing')",
		} {
			_, err := own.ExecContext(ctx, q)
			require.NoError(t, err, q)
		}
		hostBefore := dumpHostTables(t, own)
		db, queries := storagetest.RecordQueries(db)

		a := mountStack(t, db, "app_", "root-password-a")
		aRoot := a.signin(t, "root", "root-password-a")
		a.ok(t, aRoot, "/v1/admin/settings/update", map[string]any{"app_url": "https://a.example", "signup_enabled": true})
		a.ok(t, "", "/v1/session/signup", map[string]any{"username": "alice", "password": "alice-password"})
		aAlice := a.signin(t, "alice", "alice-password")
		var profile struct{ Name string }
		a.ok(t, aAlice, "/v1/profile/read").Decode(t, &profile)
		assert.Equal(t, "alice", profile.Name)
		aTok := a.newToken(t, aAlice, "ci")
		assert.Equal(t, "alice", a.whoami(t, aTok.Token).Auth.Username, "the API token authenticates")
		var listed []tokenRec
		a.ok(t, aAlice, "/v1/api-tokens/read").Decode(t, &listed)
		require.Len(t, listed, 1)
		type user struct{ ID, Name string }
		var found []user
		a.ok(t, aRoot, "/v1/admin/users/read").Decode(t, &found)
		// The host's user 100 is not the module's, whose ids start at 100.
		assert.Equal(t, []user{{"100", "alice"}}, found)
		assert.Equal(t, "https://a.example", a.appURL(t, aRoot))

		assert.Equal(t, hostBefore, dumpHostTables(t, own), "the host's own tables are untouched")
		for _, table := range unprefixed {
			assert.Empty(t, queries.Naming(table), "a query names %s without the prefix", table)
		}
		for _, table := range unprefixed {
			assert.True(t, tableExists(t, own, "app_"+table), "app_%s", table)
		}
		for _, table := range unprefixed {
			if table != "users" && table != "api_tokens" { // the host's
				assert.False(t, tableExists(t, own, table), table)
			}
		}
		assertIndexNames(t, own, "app_")

		// A second service under another prefix, on the same database.
		b := mountStack(t, db, "b_", "root-password-b")
		b.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "alice", "password": "alice-password"})
		b.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "root", "password": "root-password-a"})
		b.refused(t, 401, aAlice, "/v1/session/signin") // a's session is a guest here
		b.refused(t, 401, aTok.Token, "/v1/session/signin")
		bRoot := b.signin(t, "root", "root-password-b")
		assert.Empty(t, b.appURL(t, bRoot), "b has settings of its own")
		b.refused(t, 403, "", "/v1/session/signup", map[string]any{"username": "alice", "password": "other-password"})
		b.ok(t, bRoot, "/v1/admin/settings/update", map[string]any{"signup_enabled": true})
		b.ok(t, "", "/v1/session/signup", map[string]any{"username": "alice", "password": "other-password"})
		bAlice := b.signin(t, "alice", "other-password")
		b.ok(t, bRoot, "/v1/admin/users/read").Decode(t, &found)
		assert.Equal(t, []user{{"100", "alice"}}, found, "b's alice is b's first user")
		b.ok(t, bAlice, "/v1/api-tokens/read").Decode(t, &listed)
		assert.Empty(t, listed, "b's alice has none of a's tokens")
		b.ok(t, bRoot, "/v1/admin/settings/update", map[string]any{"app_url": "https://b.example"})
		assert.Equal(t, "https://a.example", a.appURL(t, aRoot), "b's update is not a's")

		// Rate limits count apart: spending a name's sign-in budget in a
		// leaves it whole in b.
		for range users.DefaultSigninLimitPerNameAddr.Burst {
			a.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "carol", "password": "wrong-password"})
		}
		a.refused(t, 429, "", "/v1/session/signin", map[string]string{"username": "carol", "password": "wrong-password"})
		b.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "carol", "password": "wrong-password"})

		a.ok(t, aAlice, "/v1/api-tokens/read").Decode(t, &listed)
		assert.Len(t, listed, 1, "a's alice keeps her token")
		a.ok(t, "", "/v1/session/signin", map[string]string{"username": "alice", "password": "alice-password"})
		for _, table := range unprefixed {
			assert.True(t, tableExists(t, own, "b_"+table), "b_%s", table)
		}
		assertIndexNames(t, own, "app_", "b_")
		for _, table := range unprefixed {
			assert.Empty(t, queries.Naming(table), "a query names %s without the prefix", table)
		}
		assert.Equal(t, hostBefore, dumpHostTables(t, own), "the host's own tables are untouched")
	})
}

// A prefix that is not a plain lower-case name is refused before anything
// is stored.
func TestTablePrefixRefused(t *testing.T) {
	t.Parallel()
	db := storagetest.SQLite(t)
	reg := rpc.New(rpc.Options{Permissions: declared()})
	for _, bad := range []string{"App_", "a-b_", "x; DROP TABLE users; --", strings.Repeat("a", storage.MaxTablePrefix+1)} {
		_, err := users.Mount(t.Context(), reg, db, users.Options{TablePrefix: bad, Out: io.Discard})
		assert.ErrorContains(t, err, "TablePrefix", "%q", bad)
		_, err = settings.Mount(t.Context(), reg, db, settings.Options{TablePrefix: bad})
		assert.ErrorContains(t, err, "TablePrefix", "%q", bad)
	}
	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), "SELECT count(*) FROM sqlite_master").Scan(&n))
	assert.Zero(t, n, "nothing was created")
}

// mountStack mounts users, tokens and settings under prefix on a registry
// of its own, as one service would.
func mountStack(t *testing.T, db *bun.DB, prefix, rootPassword string) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{db: db, logs: new(logbuf.Buffer)}
	e.reg = rpc.New(rpc.Options{
		Permissions: declared(),
		Logger:      slog.New(slog.NewTextHandler(e.logs, nil)),
	})
	set, err := settings.Mount(ctx, e.reg, db, settings.Options{TablePrefix: prefix})
	require.NoError(t, err)
	e.users, err = users.Mount(ctx, e.reg, db, users.Options{
		TablePrefix:   prefix,
		RootPassword:  rootPassword,
		Out:           &bytes.Buffer{},
		Hasher:        auth.NewHasher(auth.HasherOptions{Params: fastParams}),
		SignupEnabled: set.SignupEnabled,
	})
	require.NoError(t, err)
	assert.Equal(t, prefix, e.users.TablePrefix())
	e.mod, err = tokens.Mount(ctx, e.reg, db, e.users, tokens.Options{})
	require.NoError(t, err)
	e.c = rpctest.New(e.reg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.reg.Shutdown(ctx))
		if t.Failed() {
			t.Logf("server log (%s):\n%s", prefix, e.logs.String())
		}
	})
	return e
}

func (e *env) appURL(t *testing.T, token string) string {
	t.Helper()
	var s struct {
		AppURL string `json:"app_url"`
	}
	e.ok(t, token, "/v1/admin/settings/read").Decode(t, &s)
	return s.AppURL
}

// dumpHostTables is every row and column of the host's own tables.
func dumpHostTables(t *testing.T, db *bun.DB) string {
	t.Helper()
	var out strings.Builder
	for _, table := range []string{"users", "api_tokens"} {
		var rows []map[string]any
		require.NoError(t, db.NewSelect().Table(table).OrderExpr("id").Scan(context.Background(), &rows))
		fmt.Fprintf(&out, "%s: %v\n", table, rows)
	}
	return out.String()
}

func tableExists(t *testing.T, db *bun.DB, name string) bool {
	t.Helper()
	q := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if storage.IsPostgres(db) {
		q = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
	}
	var n int
	require.NoError(t, db.QueryRowContext(context.Background(), q, name).Scan(&n))
	return n > 0
}

// assertIndexNames checks that every index and constraint on a table of
// one of the prefixes is named under that prefix: PostgreSQL wants index
// names unique per schema, and so does SQLite per database.
func assertIndexNames(t *testing.T, db *bun.DB, prefixes ...string) {
	t.Helper()
	var pairs []struct {
		Table string `bun:"tbl"`
		Name  string `bun:"name"`
	}
	q := "SELECT tbl_name AS tbl, name FROM sqlite_master WHERE type = 'index'"
	if storage.IsPostgres(db) {
		q = `SELECT tablename AS tbl, indexname AS name FROM pg_indexes WHERE schemaname = current_schema()
UNION ALL
SELECT rel.relname AS tbl, con.conname AS name FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
WHERE rel.relnamespace = current_schema()::regnamespace`
	}
	require.NoError(t, db.NewRaw(q).Scan(context.Background(), &pairs))
	seen := map[string]int{}
	for _, p := range pairs {
		i := slices.IndexFunc(prefixes, func(prefix string) bool { return strings.HasPrefix(p.Table, prefix) })
		if i < 0 {
			continue // the host's
		}
		seen[prefixes[i]]++
		// SQLite names the indexes of UNIQUE and PRIMARY KEY after the table.
		name := strings.TrimPrefix(p.Name, "sqlite_autoindex_")
		assert.True(t, strings.HasPrefix(name, prefixes[i]), "index or constraint %s on %s", p.Name, p.Table)
	}
	for _, prefix := range prefixes {
		assert.Greater(t, seen[prefix], 5, "indexes under %s", prefix)
	}
}
