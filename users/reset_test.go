package users_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/mailer/mailertest"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/users"
)

// resets records the resets a hook saw, and fails them while fail is set.
type resets struct {
	mu   sync.Mutex
	seen []users.CredentialsReset
	fail bool
}

func (r *resets) hook(ctx context.Context, tx bun.Tx, cr users.CredentialsReset) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("the host's store is down")
	}
	r.seen = append(r.seen, cr)
	return nil
}

func (r *resets) take() []users.CredentialsReset {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := r.seen
	r.seen = nil
	return seen
}

func id(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return n
}

// An administrator's new password runs the hooks; a rename alone does not.
func TestCredentialsResetHooks(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		var r resets
		e.mod.OnCredentialsReset(r.hook)
		bob := users.CredentialsReset{UserID: id(t, s.user.ID)}

		e.ok(t, s.adminTok, "/v1/admin/users/set-password", "bob", "bob-password-2")
		assert.Equal(t, []users.CredentialsReset{bob}, r.take())
		e.ok(t, s.adminTok, "/v1/admin/users/set-password", "bob")
		assert.Equal(t, []users.CredentialsReset{bob}, r.take(), "a generated password too")
		e.ok(t, s.adminTok, "/v1/admin/users/set-username", "bob", "bob", "bob-password-3")
		assert.Equal(t, []users.CredentialsReset{bob}, r.take())
		e.ok(t, s.adminTok, "/v1/admin/users/set-username", "bob", "bobby")
		assert.Empty(t, r.take(), "a rename alone resets nothing")
		e.refused(t, 400, s.adminTok, "/v1/admin/users/set-password", "bobby", "short")
		assert.Empty(t, r.take(), "a refused call resets nothing")
	})
}

// A hook that fails fails the reset: the password, the sessions and the
// hook's own store stay as they were.
func TestCredentialsResetHookFailureRollsBack(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		r := resets{fail: true}
		e.mod.OnCredentialsReset(r.hook)
		a := e.call(t, s.adminTok, "/v1/admin/users/set-password", "bob", "bob-password-2")
		require.Equal(t, 500, a.Code, a.Raw)
		assert.True(t, a.Exception)
		e.ok(t, s.userTok, "/v1/profile/read") // bob's session lives
		e.signin(t, "bob", "bob-password")     // and his password is the old one
		assert.Contains(t, e.logs.String(), "the host's store is down")
	})
}

// KeepTokensOnAdminSetPassword skips the hooks on an administrator's
// change, not the end of the sessions.
func TestKeepTokensOnAdminSetPasswordSkipsHooks(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		var r resets
		e.mod.OnCredentialsReset(r.hook)
		e.ok(t, s.adminTok, "/v1/admin/users/set-password", "bob", "bob-password-2")
		assert.Empty(t, r.take())
		e.refused(t, rpc.CodeInsufficientPermissions, s.userTok, "/v1/profile/read")
	}, func(o *users.Options) { o.KeepTokensOnAdminSetPassword = true })
}

// A reset by mail runs the hooks, ByMail, whatever the option says.
func TestCredentialsResetHooksByMail(t *testing.T) {
	t.Parallel()
	runMail(t, func(t *testing.T, e *env, srv *mailertest.Server) {
		root := e.root(t)
		carol := e.createWithEmail(t, root, "carol", "carol-password", "carol@example.com")
		var r resets
		e.mod.OnCredentialsReset(r.hook)
		e.ok(t, "", sendReset, "carol")
		token := linkToken(t, srv.Wait(t, 1, 5*time.Second), "/reset-password")
		e.ok(t, "", setPassword, token, "carol-new-password")
		assert.Equal(t, []users.CredentialsReset{{UserID: id(t, carol.ID), ByMail: true}}, r.take())
	}, func(o *users.Options) { o.KeepTokensOnAdminSetPassword = true })
}
