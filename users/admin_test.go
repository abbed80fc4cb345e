package users_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc"
)

// The "checked by", end to end: root signs in, creates an admin and
// a plain user; each calls what it may and is refused what it may not with
// the API v1 reference's codes; a disabled user is refused at once.
func TestScenario(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		root := e.root(t)
		var admin userRec
		e.ok(t, root, "/v1/admin/users/create", map[string]any{
			"username": "Alice", "password": "alice-password", "permissions": map[string]bool{"admin": true},
			"email": "alice@example.com",
		}).Decode(t, &admin)
		assert.Equal(t, "alice", admin.Name)
		assert.True(t, admin.Enabled)
		assert.Equal(t, map[string]bool{"admin": true, "billing": false, "reports": true}, admin.Permissions)
		assert.Empty(t, admin.Password, "no password is answered when one was given")
		assert.GreaterOrEqual(t, mustID(t, admin.ID), int64(100))
		assert.WithinDuration(t, e.clock.Now(), admin.Created, time.Second)

		var plain userRec
		e.ok(t, root, "/v1/admin/users/create", map[string]any{"username": "bob"}).Decode(t, &plain)
		require.Len(t, plain.Password, 20, "a generated password is answered once")

		adminTok := e.signin(t, "alice", "alice-password")
		userTok := e.signin(t, "bob", plain.Password)

		// The admin administers.
		a := e.ok(t, adminTok, "/v1/admin/users/read")
		var rows []userRec
		a.Decode(t, &rows)
		assert.Equal(t, []string{"alice", "bob"}, names(rows), "root is not listed")
		assert.Equal(t, float64(2), a.Meta["total"])
		e.ok(t, adminTok, "/v1/admin/users/create", map[string]any{"username": "carol", "password": "carol-password"})
		e.ok(t, adminTok, "/v1/admin/users/get-permissions", "bob")
		e.ok(t, adminTok, "/v1/admin/users/update-permissions", "bob", map[string]bool{"admin": true})
		e.ok(t, adminTok, "/v1/admin/users/update-permissions", "bob", map[string]bool{"admin": false})
		e.ok(t, adminTok, "/v1/admin/users/set-username", "carol", "caroline")
		e.ok(t, adminTok, "/v1/admin/users/delete", "caroline")

		// ... but may not touch root or grant what it lacks.
		e.refused(t, 403, adminTok, "/v1/admin/users/set-password", "root", "new-root-password")
		e.refused(t, 403, adminTok, "/v1/admin/users/update-permissions", "bob", map[string]bool{"billing": true})

		// The plain user has a profile and no administration.
		e.ok(t, userTok, "/v1/profile/read")
		e.ok(t, userTok, "/v1/profile/set-email", "bob@example.com")
		for _, m := range []string{"read", "create", "delete", "set-enabled", "set-password", "get-permissions",
			"set-permissions", "update-permissions", "suggest", "set-username"} {
			a := e.call(t, userTok, "/v1/admin/users/"+m)
			assert.Equal(t, rpc.CodeInsufficientPermissions, a.Code, "%s: %s", m, a.Raw)
			assert.Equal(t, 401, a.HTTP)
		}
		// A guest has neither.
		e.refused(t, rpc.CodeInsufficientPermissions, "", "/v1/profile/read")
		e.refused(t, rpc.CodeInsufficientPermissions, "", "/v1/admin/users/read")

		// Disabled: refused on the very next call, and cannot sign in.
		e.ok(t, adminTok, "/v1/admin/users/set-enabled", "bob", false)
		e.refused(t, rpc.CodeInsufficientPermissions, userTok, "/v1/profile/read")
		e.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "bob", "password": plain.Password})
		// Enabled again: a new sign-in works, the old session stays ended.
		e.ok(t, adminTok, "/v1/admin/users/set-enabled", "bob", true)
		e.refused(t, rpc.CodeInsufficientPermissions, userTok, "/v1/profile/read")
		e.signin(t, "bob", plain.Password)
	})
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	_, err := fmt.Sscan(s, &n)
	require.NoError(t, err)
	return n
}

func names(rows []userRec) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Name
	}
	return out
}

func TestRead(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		root := e.root(t)
		for _, f := range []map[string]any{
			{"username": "anna", "email": "anna@example.com", "password": "password-1"},
			{"username": "boris", "email": "b@corp.example", "telegram_name": "borisTG", "password": "password-1"},
			{"username": "100_percent", "password": "password-1"},
			{"username": "xyz", "email": "x%y@example.com", "password": "password-1"},
			{"username": "clara", "enabled": false, "password": "password-1"},
		} {
			e.ok(t, root, "/v1/admin/users/create", f)
			e.clock.Add(time.Second)
		}
		read := func(opts any) ([]string, float64) {
			t.Helper()
			a := e.ok(t, root, "/v1/admin/users/read", opts)
			var rows []userRec
			a.Decode(t, &rows)
			for _, r := range rows {
				assert.NotEqual(t, "root", r.Name)
				assert.NotContains(t, a.Raw, "argon2")
			}
			return names(rows), a.Meta["total"].(float64)
		}
		got, total := read(nil)
		assert.Equal(t, []string{"anna", "boris", "100_percent", "xyz", "clara"}, got, "by id")
		assert.Equal(t, float64(5), total)

		got, _ = read(map[string]any{"where": map[string]any{"search": []string{"like", "CORP"}}})
		assert.Equal(t, []string{"boris"}, got, "search covers email, case-insensitively")
		got, _ = read(map[string]any{"where": map[string]any{"search": []string{"like", "bOrIstg"}}})
		assert.Equal(t, []string{"boris"}, got, "and the telegram name")
		got, _ = read(map[string]any{"where": map[string]any{"search": []string{"like", "%"}}})
		assert.Equal(t, []string{"xyz"}, got, "% matches itself")
		got, _ = read(map[string]any{"where": map[string]any{"search": []string{"like", "_"}}})
		assert.Equal(t, []string{"100_percent"}, got, "_ matches itself")
		got, total = read(map[string]any{"where": map[string]any{"search": []string{"like", "roo"}}})
		assert.Empty(t, got, "root is never listed")
		assert.Equal(t, float64(0), total)
		got, total = read(map[string]any{"where": map[string]any{"search": []string{"like", "a"}}, "limit": 2})
		assert.Len(t, got, 2)
		assert.Equal(t, float64(4), total, "total counts past the limit")

		var rows []userRec
		e.ok(t, root, "/v1/admin/users/read", nil).Decode(t, &rows)
		id := rows[1].ID
		got, _ = read(map[string]any{"where": map[string]any{"id": id}})
		assert.Equal(t, []string{"boris"}, got)
		got, _ = read(map[string]any{"where": map[string]any{"id": "1"}})
		assert.Empty(t, got)

		got, _ = read(map[string]any{"order_by": "name"})
		assert.Equal(t, []string{"100_percent", "anna", "boris", "clara", "xyz"}, got)
		got, _ = read(map[string]any{"order_by": []any{[]string{"created", "desc"}}})
		assert.Equal(t, []string{"clara", "xyz", "100_percent", "boris", "anna"}, got)
		got, _ = read(map[string]any{"order_by": []any{"enabled", "name"}})
		assert.Equal(t, []string{"clara", "100_percent", "anna", "boris", "xyz"}, got)
		got, _ = read(map[string]any{"limit": 1000, "offset": 3})
		assert.Equal(t, []string{"xyz", "clara"}, got, "limit is clamped, offset applies")

		for _, bad := range []string{
			`[{"where":{"name":"anna"}}]`,               // not filterable
			`[{"where":{"search":"anna"}}]`,             // search is like only
			`[{"where":{"email":["like","a"]}}]`,        // undeclared field
			`[{"order_by":"email"}]`,                    // not sortable
			`[{"where":{"id":"abc"}}]`,                  // not an id
			`[{"limit":0}]`,                             // below 1
			`[{"sql":"1=1"}]`,                           // unknown key
			`[{"where":{"search":["like","a\u0000"]}}]`, // NUL
		} {
			a := e.c.As(root).Post(t, "/v1/admin/users/read", bad)
			assert.Equal(t, rpc.CodeInvalidParams, a.Code, "%s: %s", bad, a.Raw)
		}
	})
}

func TestReadLimitIs100(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		root := e.root(t)
		values := make([]string, 0, 120)
		for i := range 120 {
			values = append(values, fmt.Sprintf("('user%03d', '{}', '', '%s')", i, e.clock.Now().Format("2006-01-02 15:04:05")))
		}
		_, err := e.db.ExecContext(t.Context(), "INSERT INTO users (name, permissions, password_hash, created) VALUES "+strings.Join(values, ","))
		require.NoError(t, err)
		a := e.ok(t, root, "/v1/admin/users/read", map[string]any{"limit": 500})
		var rows []userRec
		a.Decode(t, &rows)
		assert.Len(t, rows, 100)
		assert.Equal(t, float64(120), a.Meta["total"])
	})
}

func TestCreate(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		root := e.root(t)
		var u userRec
		e.ok(t, root, "/v1/admin/users/create", map[string]any{
			"username": "Dora@Example.com", "enabled": false, "email": "Dora.Work@EXAMPLE.com",
			"telegram_name": "@Dora_The_Explorer", "permissions": map[string]bool{"billing": true, "reports": false},
		}).Decode(t, &u)
		assert.Equal(t, "dora@example.com", u.Name, "a user name may be an email address")
		assert.Equal(t, "dora.work@example.com", *u.Email)
		assert.Equal(t, "dora_the_explorer", *u.TelegramName)
		assert.False(t, u.Enabled)
		assert.False(t, u.EmailConfirmed)
		assert.Equal(t, map[string]bool{"admin": false, "billing": true, "reports": false}, u.Permissions,
			"defaults overlaid with the given permissions")
		require.NotEmpty(t, u.Password)
		// Created disabled: cannot sign in until enabled.
		e.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "dora@example.com", "password": u.Password})
		e.ok(t, root, "/v1/admin/users/set-enabled", u.ID, true)
		e.signin(t, "Dora@example.com", u.Password)

		// The generated password is shown once: not in reads.
		a := e.ok(t, root, "/v1/admin/users/read")
		assert.NotContains(t, a.Raw, u.Password)
		assert.NotContains(t, a.Raw, `"password"`)

		before := e.snapshot(t)
		a = e.refused(t, 409, root, "/v1/admin/users/create", map[string]any{"username": "DORA@example.com"})
		assert.Contains(t, a.Message, "is taken")
		e.refused(t, 409, root, "/v1/admin/users/create", map[string]any{"username": "dora2", "email": "dora.work@example.com"})
		e.refused(t, 409, root, "/v1/admin/users/create", map[string]any{"username": "dora2", "telegram_name": "DORA_THE_EXPLORER"})
		e.refused(t, 409, root, "/v1/admin/users/create", map[string]any{"username": "root"})
		assert.Equal(t, before, e.snapshot(t))
	})
}

func TestSetEnabled(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		a := e.ok(t, s.adminTok, "/v1/admin/users/set-enabled", s.user.ID, true)
		assert.Equal(t, 204, a.Code, "already enabled")
		a = e.ok(t, s.adminTok, "/v1/admin/users/set-enabled", s.user.ID, false)
		assert.Equal(t, 200, a.Code)
		assert.Equal(t, 2, e.count(t, "user_sessions"), "the disabled user's session is gone")
		a = e.ok(t, s.adminTok, "/v1/admin/users/set-enabled", "BOB", false)
		assert.Equal(t, 204, a.Code)
		// An admin enabling itself changes nothing; that is not refused.
		a = e.ok(t, s.adminTok, "/v1/admin/users/set-enabled", "ann", true)
		assert.Equal(t, 204, a.Code)
	})
}

func TestSetPassword(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		other := e.signin(t, "bob", "bob-password")

		a := e.ok(t, s.adminTok, "/v1/admin/users/set-password", "bob", "new-bob-password")
		assert.Empty(t, a.Data)
		e.refused(t, rpc.CodeInsufficientPermissions, s.userTok, "/v1/profile/read")
		e.refused(t, rpc.CodeInsufficientPermissions, other, "/v1/profile/read")
		e.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "bob", "password": "bob-password"})
		bob := e.signin(t, "bob", "new-bob-password")

		// Generated, and answered.
		a = e.ok(t, s.adminTok, "/v1/admin/users/set-password", s.user.ID)
		var gen struct{ Password string }
		a.Decode(t, &gen)
		require.Len(t, gen.Password, 20)
		e.refused(t, rpc.CodeInsufficientPermissions, bob, "/v1/profile/read")
		e.signin(t, "bob", gen.Password)

		// Changing your own: the session you called with survives, the others end.
		annElsewhere := e.signin(t, "ann", "ann-password")
		e.ok(t, s.adminTok, "/v1/admin/users/set-password", "ann", "new-ann-password")
		e.ok(t, s.adminTok, "/v1/profile/read")
		e.refused(t, rpc.CodeInsufficientPermissions, annElsewhere, "/v1/profile/read")

		// Root sets its own.
		e.ok(t, s.rootTok, "/v1/admin/users/set-password", "root", "new-root-password")
		e.ok(t, s.rootTok, "/v1/profile/read")
		e.signin(t, "root", "new-root-password")

		before := e.snapshot(t)
		a = e.refused(t, 400, s.adminTok, "/v1/admin/users/set-password", "bob", "short")
		assert.Equal(t, "password must be at least 8 characters", a.Message)
		a = e.refused(t, 400, s.adminTok, "/v1/admin/users/set-password", "bob", strings.Repeat("x", 1025))
		assert.Equal(t, "password must be at most 1024 bytes", a.Message)
		e.refused(t, 404, s.adminTok, "/v1/admin/users/set-password", "nobody", "long-enough-1")
		assert.Equal(t, before, e.snapshot(t))
	})
}

func TestPermissionsMethods(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		get := func(user string) []map[string]any {
			var list []map[string]any
			e.ok(t, s.rootTok, "/v1/admin/users/get-permissions", user).Decode(t, &list)
			return list
		}
		assert.Equal(t, []map[string]any{
			// SPEC §7a: id is the permission, name (as front ends read it)
			// its title.
			{"id": "admin", "name": "Administrator", "title": "Administrator", "description": "Manages users.", "enabled": false, "grantable": true},
			{"id": "billing", "name": "Billing", "title": "Billing", "description": "Sees invoices.", "enabled": false, "grantable": true},
			{"id": "reports", "name": "Reports", "title": "Reports", "description": "Reads reports.", "enabled": true, "grantable": true},
		}, get("bob"))
		for _, p := range get("root") {
			assert.Equal(t, true, p["enabled"], "root holds everything")
		}

		a := e.ok(t, s.rootTok, "/v1/admin/users/update-permissions", "bob", map[string]bool{"billing": true})
		assert.Equal(t, 200, a.Code)
		assert.Equal(t, map[string]bool{"admin": false, "billing": true, "reports": true}, states(get("bob")), "merged")
		a = e.ok(t, s.rootTok, "/v1/admin/users/update-permissions", "bob", map[string]bool{"billing": true})
		assert.Equal(t, 204, a.Code, "nothing changed")

		e.ok(t, s.rootTok, "/v1/admin/users/set-permissions", "bob", map[string]bool{"admin": true})
		assert.Equal(t, map[string]bool{"admin": true, "billing": false, "reports": false}, states(get("bob")), "replaced")
		a = e.ok(t, s.rootTok, "/v1/admin/users/set-permissions", "bob", map[string]bool{"admin": true, "billing": false})
		assert.Equal(t, 204, a.Code)
		e.ok(t, s.rootTok, "/v1/admin/users/set-permissions", "bob", map[string]bool{})
		assert.Equal(t, map[string]bool{"admin": false, "billing": false, "reports": false}, states(get("bob")))

		// The record lists every declared permission.
		var u userRec
		e.ok(t, s.userTok, "/v1/profile/read").Decode(t, &u)
		assert.Equal(t, map[string]bool{"admin": false, "billing": false, "reports": false}, u.Permissions)
	})
}

func states(list []map[string]any) map[string]bool {
	out := map[string]bool{}
	for _, p := range list {
		out[p["id"].(string)] = p["enabled"].(bool) // SPEC §7a: the id is the permission
	}
	return out
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		root := e.root(t)
		for _, n := range []string{"mark", "omar", "marta", "rosemary", "x_y", "xay"} {
			e.create(t, root, n, "password-1", nil)
		}
		suggest := func(body string) []string {
			t.Helper()
			a := e.c.As(root).Post(t, "/v1/admin/users/suggest", body)
			require.Equal(t, 200, a.HTTP, a.Raw)
			var out []string
			a.Decode(t, &out)
			return out
		}
		assert.Equal(t, []string{"mark", "marta", "omar", "rosemary"}, suggest(`[{"where":{"name":["like","MAR"]}}]`),
			"names that start with the text first")
		assert.Equal(t, []string{"x_y"}, suggest(`[{"where":{"name":["like","_"]}}]`))
		assert.Empty(t, suggest(`[{"where":{"name":["like","root"]}}]`), "root is not suggested")
		assert.Len(t, suggest(`[]`), 6)
		assert.Len(t, suggest(`[{}]`), 6)
		assert.Empty(t, suggest(`[{"where":{"name":["like","`+strings.Repeat("a", 10_000)+`"]}}]`))

		for _, bad := range []string{
			`[{"where":{"name":"mar"}}]`,
			`[{"where":{"name":["=","mar"]}}]`,
			`[{"where":{"name":["like"]}}]`,
			`[{"where":{"name":["like","a","b"]}}]`,
			`[{"where":{"email":["like","a"]}}]`,
			`[{"limit":5}]`,
			`["mar"]`,
		} {
			a := e.c.As(root).Post(t, "/v1/admin/users/suggest", bad)
			assert.Equal(t, rpc.CodeInvalidParams, a.Code, "%s: %s", bad, a.Raw)
		}
		a := e.c.As(root).Post(t, "/v1/admin/users/suggest", `[{"where":{"name":["like","a\u0000"]}}]`)
		assert.Equal(t, 400, a.Code, a.Raw)
	})
}

func TestSetUsername(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.ok(t, s.userTok, "/v1/profile/read")
		a := e.ok(t, s.adminTok, "/v1/admin/users/set-username", "bob", "Robert")
		assert.Equal(t, 200, a.Code)
		var u userRec
		e.ok(t, s.userTok, "/v1/profile/read").Decode(t, &u)
		assert.Equal(t, "robert", u.Name, "the session follows the rename at once")
		var who signin
		e.ok(t, s.userTok, "/v1/session/signin").Decode(t, &who)
		assert.Equal(t, "robert", who.Auth.Username)
		e.signin(t, "robert", "bob-password")
		e.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "bob", "password": "bob-password"})

		a = e.ok(t, s.adminTok, "/v1/admin/users/set-username", s.user.ID, "robert")
		assert.Equal(t, 204, a.Code)

		// With a password: both change, the user's sessions end.
		e.ok(t, s.adminTok, "/v1/admin/users/set-username", "robert", "bobby", "bobby-password")
		e.refused(t, rpc.CodeInsufficientPermissions, s.userTok, "/v1/profile/read")
		e.signin(t, "bobby", "bobby-password")

		before := e.snapshot(t)
		a = e.refused(t, 409, s.adminTok, "/v1/admin/users/set-username", "bobby", "ANN")
		assert.Equal(t, `user name "ann" is taken`, a.Message)
		e.refused(t, 409, s.adminTok, "/v1/admin/users/set-username", "bobby", "root")
		a = e.refused(t, 400, s.adminTok, "/v1/admin/users/set-username", "bobby", "12345")
		assert.Contains(t, a.Message, "not valid")
		e.refused(t, 400, s.adminTok, "/v1/admin/users/set-username", "bobby", "ok-name", "short")
		e.refused(t, 404, s.adminTok, "/v1/admin/users/set-username", "nobody", "somebody")
		assert.Equal(t, before, e.snapshot(t))
	})
}

func TestUserIDIsAnIDOrAName(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		for _, id := range []string{s.user.ID, "bob", "BOB"} {
			var list []map[string]any
			e.ok(t, s.rootTok, "/v1/admin/users/get-permissions", id).Decode(t, &list)
			assert.Len(t, list, 3)
		}
		for _, id := range []string{"999999", "nobody", "", "0", "99999999999999999999999", "bob ", " bob", "böb"} {
			a := e.refused(t, 404, s.rootTok, "/v1/admin/users/get-permissions", id)
			assert.Equal(t, fmt.Sprintf("user %q not found", id), a.Message)
		}
		a := e.refused(t, 404, s.rootTok, "/v1/admin/users/delete", strings.Repeat("z", 10_000))
		assert.Less(t, len(a.Message), 100, "the message quotes a long value short")
	})
}
