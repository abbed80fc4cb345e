package users_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// Options.AdminPermission names the permission of the admin methods: with
// "staff", staff administer users and holders of "admin" do not.
func TestAdminPermission(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnvRPC(t, db, func(o *rpc.Options) {
			require.NoError(t, o.Permissions.Declare(auth.Permission{Name: "staff", Title: "Staff"}))
		}, func(o *users.Options) { o.AdminPermission = "staff" })

		admins := 0
		for _, m := range e.reg.Methods() {
			if strings.HasPrefix(m.ID, "/v1/admin/users/") {
				assert.Equal(t, []string{"staff"}, m.Permissions, m.ID)
				admins++
			}
		}
		assert.NotZero(t, admins)

		root := e.root(t)
		e.create(t, root, "sue", "sue-password", map[string]bool{"staff": true})
		e.create(t, root, "ann", "ann-password", map[string]bool{"admin": true})
		staff, admin := e.signin(t, "sue", "sue-password"), e.signin(t, "ann", "ann-password")

		e.ok(t, staff, "/v1/admin/users/read")
		e.ok(t, staff, "/v1/admin/users/create", map[string]any{"username": "carol"})
		e.refused(t, rpc.CodeInsufficientPermissions, admin, "/v1/admin/users/read")
		e.refused(t, rpc.CodeInsufficientPermissions, admin, "/v1/admin/users/create", map[string]any{"username": "dave"})
		e.ok(t, admin, "/v1/profile/read")
	})
}

// Mount refuses an admin permission that is not declared, naming it, and
// stores nothing.
func TestAdminPermissionMustBeDeclared(t *testing.T) {
	t.Parallel()
	db := storagetest.SQLite(t)
	for _, c := range []struct{ declared, option, missing string }{
		{"", "", "admin"},             // the default needs declaring too
		{"staff", "stafff", "stafff"}, // a typo
	} {
		perms := auth.NewPermissions()
		if c.declared != "" {
			require.NoError(t, perms.Declare(auth.Permission{Name: c.declared}))
		}
		reg := rpc.New(rpc.Options{Permissions: perms})
		_, err := users.Mount(context.Background(), reg, db, users.Options{AdminPermission: c.option, Out: io.Discard})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `Options.AdminPermission: permission "`+c.missing+`" is not declared`)
		assert.Empty(t, reg.Methods(), "nothing registered")
	}
	var n int
	require.NoError(t, db.QueryRowContext(t.Context(), "SELECT count(*) FROM sqlite_master").Scan(&n))
	assert.Zero(t, n, "nothing was created")
}
