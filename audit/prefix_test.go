package audit_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/audit"
	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// Mounted twice on one database under two prefixes, the trail keeps two:
// each reads back its own entries only, and no query names the table or
// the record of migrations without its prefix.
func TestTablePrefixTwice(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		db, queries := storagetest.RecordQueries(db)
		a := newEnv(t, db, audit.Options{TablePrefix: "app_"})
		b := newEnv(t, db, audit.Options{TablePrefix: "b_"})
		require.Equal(t, http.StatusOK, a.c.As(a.admin).Call(t, "/v1/host/rename", "1", "in a").HTTP)
		require.Equal(t, http.StatusOK, b.c.As(b.admin).Call(t, "/v1/host/rename", "2", "in b").HTTP)
		rows, total := a.read(t, "")
		require.Equal(t, 1, total)
		assert.Equal(t, "1", *rows[0].TargetID)
		rows, total = b.read(t, "")
		require.Equal(t, 1, total)
		assert.Equal(t, "2", *rows[0].TargetID)
		for _, table := range []string{"authrpc_audit", "authrpc_migrations"} {
			assert.Empty(t, queries.Naming(table), "a query names %s without a prefix", table)
		}
		assert.NotEmpty(t, queries.Naming("app_authrpc_audit"))
	})
}

// Mount refuses a bad prefix, an undeclared permission and no database.
func TestMountRefuses(t *testing.T) {
	t.Parallel()
	db := storagetest.SQLite(t)
	reg := rpc.New(rpc.Options{Permissions: auth.NewPermissions(auth.Permission{Name: "admin", Title: "Administrator"})})
	_, err := audit.Mount(t.Context(), reg, db, audit.Options{TablePrefix: "Bad-Prefix"})
	assert.ErrorContains(t, err, "TablePrefix")
	_, err = audit.Mount(t.Context(), reg, db, audit.Options{Permission: "auditor"})
	assert.ErrorContains(t, err, "auditor")
	_, err = audit.Mount(t.Context(), reg, nil, audit.Options{})
	assert.Error(t, err)
}
