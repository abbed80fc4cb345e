package settings_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/audit"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage/storagetest"
)

type auditedExtra struct {
	Region string `json:"region"`
	APIKey string `json:"api_key" settings:"secret"`
}

// An update is recorded with the fields it changed; secrets (the SMTP
// password, a host field tagged secret) only as set or cleared; an update
// that changes nothing is not recorded.
func TestUpdateIsAudited(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		var trail *audit.Module
		e := newEnvWith(t, db, func(reg *rpc.Registry) settings.Options {
			var err error
			trail, err = audit.Mount(context.Background(), reg, db, audit.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = trail.Close(context.Background()) })
			return settings.Options{Extra: auditedExtra{}, Audit: trail}
		})
		e.ok(t, "update", `[{"smtp_hostname":"smtp.example.com","smtp_password":"smtp-Secret-1","api_key":"key-Secret-2","region":"eu"}]`)
		e.ok(t, "update", `[{"region":"eu"}]`) // no change
		e.ok(t, "update", `[{"region":"us","api_key":""}]`)

		var rows []struct {
			Changes string `bun:"changes"`
			Action  string `bun:"action"`
		}
		require.NoError(t, db.NewSelect().Table("authrpc_audit").Column("changes", "action").OrderExpr("id").Scan(t.Context(), &rows))
		require.Len(t, rows, 2)
		var first, second map[string]any
		require.NoError(t, json.Unmarshal([]byte(rows[0].Changes), &first))
		require.NoError(t, json.Unmarshal([]byte(rows[1].Changes), &second))
		assert.Equal(t, "settings.update", rows[0].Action)
		assert.Equal(t, map[string]any{"smtp_hostname": "smtp.example.com", "smtp_password": true, "api_key": true, "region": "eu"}, first)
		assert.Equal(t, map[string]any{"region": "us", "api_key": false}, second)
		for _, r := range rows {
			assert.False(t, strings.Contains(r.Changes, "Secret"), r.Changes)
		}
	})
}
