package users_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/audit"
	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// storedEntry is a row of the trail as stored.
type storedEntry struct {
	Action    string  `bun:"action"`
	ActorID   *int64  `bun:"actor_id"`
	ActorKind string  `bun:"actor_kind"`
	TargetID  *string `bun:"target_id"`
	Changes   string  `bun:"changes"`
	Result    string  `bun:"result"`
}

func entries(t *testing.T, db *bun.DB) []storedEntry {
	t.Helper()
	var out []storedEntry
	require.NoError(t, db.NewSelect().Table("authrpc_audit").Column("action", "actor_id", "actor_kind", "target_id", "changes", "result").
		OrderExpr("id").Scan(context.Background(), &out))
	return out
}

// Changes made from Go record the host (or the Actor's principal) as the
// actor, a signup a guest; refusals by the rules are recorded as forbidden,
// refusals of input and of the admin permission are not.
func TestAuditFromGo(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		reg := rpc.New(rpc.Options{Permissions: declared()})
		trail, err := audit.Mount(ctx, reg, db, audit.Options{})
		require.NoError(t, err)
		m, err := users.Mount(ctx, reg, db, users.Options{RootPassword: rootPassword, Hasher: fastHasher(), Audit: trail, SignupEnabled: users.SignupOpen})
		require.NoError(t, err)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, reg.Shutdown(ctx))
		})
		assert.Equal(t, trail, m.Auditor())

		ann, _, err := m.Create(ctx, users.NewUser{Username: "ann", Password: "ann-password", Permissions: map[string]bool{"admin": true}})
		require.NoError(t, err)
		bob, err := m.SignUp(ctx, users.SignUp{Username: "bob", Password: "bob-password", Addr: "203.0.113.1"})
		require.NoError(t, err)
		asAnn := m.As(&auth.Principal{UserID: ann.ID, Username: "ann", Kind: auth.KindSession, TokenID: 9, Permissions: map[string]bool{"admin": true}})
		_, err = asAnn.SetEnabled(ctx, bob.ID, false)
		require.NoError(t, err)
		require.ErrorIs(t, asAnn.Delete(ctx, ann.ID), users.ErrForbidden) // herself: recorded
		_, err = asAnn.SetEmail(ctx, bob.ID, "not an email")
		require.ErrorIs(t, err, users.ErrInvalid) // input: not recorded
		asBob := m.As(&auth.Principal{UserID: bob.ID, Username: "bob", Kind: auth.KindSession, TokenID: 10})
		require.ErrorIs(t, asBob.Delete(ctx, ann.ID), users.ErrForbidden) // the method's permission: not recorded
		require.NoError(t, m.SetPassword(ctx, bob.ID, "bob-new-password"))

		got := entries(t, db)
		require.Len(t, got, 5)
		id := func(v int64) *int64 { return &v }
		target := func(v int64) *string { s := audit.ID(v); return &s }
		assert.Equal(t, storedEntry{"users.create", id(auth.RootUserID), audit.ActorHost, target(ann.ID), got[0].Changes, "ok"}, got[0])
		var created map[string]any
		require.NoError(t, json.Unmarshal([]byte(got[0].Changes), &created))
		assert.Equal(t, map[string]any{"name": "ann", "email": nil, "telegram_name": nil, "enabled": true,
			"permissions": map[string]any{"admin": true, "reports": true}, "password": true}, created)
		assert.Equal(t, storedEntry{"users.signup", nil, audit.ActorGuest, target(bob.ID), got[1].Changes, "ok"}, got[1])
		assert.Equal(t, storedEntry{"users.disable", id(ann.ID), audit.ActorSession, target(bob.ID), `{"enabled":false}`, "ok"}, got[2])
		assert.Equal(t, storedEntry{"users.delete", id(ann.ID), audit.ActorSession, target(ann.ID), "{}", "forbidden: you cannot delete yourself"}, got[3])
		assert.Equal(t, storedEntry{"users.set-password", id(auth.RootUserID), audit.ActorHost, target(bob.ID), `{"password":true}`, "ok"}, got[4])
		for _, e := range got {
			assert.NotContains(t, e.Changes, "-password")
		}
	})
}
