package tokens_test

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/mailer"
	"github.com/authrpc/authrpc/mailer/mailertest"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// Recovering an account ends every credential an attacker could hold: an
// administrator's set-password ends the user's sessions and API tokens, on
// the very next call, even those whose caller is cached.
func TestAdminSetPasswordEndsTokens(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		const insufficient = rpc.CodeInsufficientPermissions
		bobs := e.newToken(t, c.bob, "bob's")

		t.Run("set-password", func(t *testing.T) {
			tok := adminToken(t, e, c)
			other := e.newToken(t, c.ann, "other")
			e.ok(t, c.root, "/v1/admin/users/set-password", "ann", "ann-new-password")
			e.refused(t, insufficient, tok.Token, "/v1/profile/read")
			e.refused(t, insufficient, other.Token, "/v1/profile/read")
			e.refused(t, insufficient, c.ann, "/v1/profile/read")
			assert.Zero(t, e.countTokens(t, c.annID), "the rows are gone, not only the cache")
			e.ok(t, bobs.Token, "/v1/profile/read") // no one else's
			c.ann = e.signin(t, "ann", "ann-new-password")
		})
		t.Run("a generated password", func(t *testing.T) {
			tok := adminToken(t, e, c)
			e.ok(t, c.root, "/v1/admin/users/set-password", "ann")
			e.refused(t, insufficient, tok.Token, "/v1/profile/read")
			e.ok(t, c.root, "/v1/admin/users/set-password", "ann", "ann-password")
			c.ann = e.signin(t, "ann", "ann-password")
		})
		t.Run("set-username with a password", func(t *testing.T) {
			tok := adminToken(t, e, c)
			e.ok(t, c.root, "/v1/admin/users/set-username", "ann", "ann", "ann-password-2")
			e.refused(t, insufficient, tok.Token, "/v1/profile/read")
			assert.Zero(t, e.countTokens(t, c.annID))
			c.ann = e.signin(t, "ann", "ann-password-2")
		})
		t.Run("set-username alone keeps them", func(t *testing.T) {
			tok := adminToken(t, e, c)
			e.ok(t, c.root, "/v1/admin/users/set-username", "ann", "annie")
			e.ok(t, tok.Token, "/v1/admin/users/read")
			e.ok(t, c.ann, "/v1/profile/read")
			e.ok(t, c.root, "/v1/admin/users/set-username", "annie", "ann")
		})
		t.Run("a caller's own password", func(t *testing.T) {
			// Root changes its own password with its session: the session
			// stays, root's tokens end.
			tok := e.newToken(t, c.root, "root's")
			e.ok(t, c.root, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"admin": true})
			e.ok(t, tok.Token, "/v1/admin/users/read")
			e.ok(t, c.root, "/v1/admin/users/set-password", "root", "root-new-password")
			e.refused(t, insufficient, tok.Token, "/v1/admin/users/read")
			e.ok(t, c.root, "/v1/profile/read")
		})
		e.ok(t, bobs.Token, "/v1/profile/read")
	})
}

// A host may keep the tokens on an administrator's set-password; the
// sessions end still.
func TestKeepTokensOnAdminSetPassword(t *testing.T) {
	t.Parallel()
	keep := envConfig{users: func(o *users.Options) { o.KeepTokensOnAdminSetPassword = true }}
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnvWith(t, db, keep)
		c := newCast(t, e)
		tok := adminToken(t, e, c)
		e.ok(t, c.root, "/v1/admin/users/set-password", "ann", "ann-new-password")
		e.ok(t, tok.Token, "/v1/admin/users/read")
		e.refused(t, rpc.CodeInsufficientPermissions, c.ann, "/v1/profile/read")
	})
}

var resetLink = regexp.MustCompile(`token=(rst_[A-Za-z0-9_-]{43})`)

// A password reset by mail ends the user's sessions and API tokens, even
// where the host keeps tokens on an administrator's set-password.
func TestResetByMailEndsTokens(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		srv := mailertest.NewServer(t, mailertest.Options{})
		e := newEnvWith(t, db, envConfig{users: func(o *users.Options) {
			o.Mailer = mailer.New(func(context.Context) (mailer.Config, error) { return srv.Config(), nil }, srv.MailerOptions())
			o.AppURL = func(context.Context) (string, error) { return "https://app.example.com", nil }
			o.KeepTokensOnAdminSetPassword = true
		}})
		c := newCast(t, e)
		e.ok(t, c.root, "/v1/admin/users/create", map[string]any{"username": "carol", "password": "carol-password", "email": "carol@example.com"})
		carol := e.signin(t, "carol", "carol-password")
		tok := e.newToken(t, carol, "carol's")
		e.ok(t, carol, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"reports": true})
		e.ok(t, tok.Token, "/v1/profile/read") // cached
		e.ok(t, tok.Token, "/v1/profile/read")

		e.ok(t, "", "/v1/session/send-password-reset-email", "carol")
		m := resetLink.FindStringSubmatch(srv.Wait(t, 1, 5*time.Second).Text)
		require.NotNil(t, m, "the mail carries a reset link")
		e.ok(t, "", "/v1/session/set-password-by-token", m[1], "carol-new-password")

		e.refused(t, rpc.CodeInsufficientPermissions, tok.Token, "/v1/profile/read")
		e.refused(t, rpc.CodeInsufficientPermissions, carol, "/v1/profile/read")
		var id struct{ ID string }
		e.ok(t, e.signin(t, "carol", "carol-new-password"), "/v1/profile/read").Decode(t, &id)
		assert.Zero(t, e.countTokens(t, id.ID))
	})
}

// Two instances on one database: a token cached on b is refused on b
// once the set-password on a reaches b's cache (within the one second the
// cache's sharing promises on PostgreSQL: waited for here with a generous
// deadline, and measured by BenchmarkInvalidationLatency).
func TestRecoveryEndsTokensOnEveryInstance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		newSync := func() *storage.Sync {
			s, err := storage.NewSync(ctx, db, storage.SyncOptions{})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close(context.Background()) })
			return s
		}
		syncA := newSync()
		syncB := syncA // SQLite: one process, one Sync
		if storage.IsPostgres(db) {
			syncB = newSync()
		}
		a := newEnvWith(t, db, envConfig{share: syncA.Channel("auth")})
		b := newEnvWith(t, db, envConfig{share: syncB.Channel("auth")})

		c := newCast(t, a)
		tok := a.newToken(t, c.ann, "ci")
		a.ok(t, c.ann, "/v1/api-tokens/set-permissions", tok.ID, map[string]bool{"admin": true})
		b.ok(t, tok.Token, "/v1/admin/users/read") // cached on b
		b.ok(t, tok.Token, "/v1/admin/users/read")

		// The event: b's cache drops ann's callers, the token included (not
		// the earlier drop of the token alone by set-permissions).
		annID, err := strconv.ParseInt(c.annID, 10, 64)
		require.NoError(t, err)
		tokID, err := strconv.ParseInt(tok.ID, 10, 64)
		require.NoError(t, err)
		cached := &auth.Principal{UserID: annID, Kind: auth.KindAPIToken, TokenID: tokID}
		dropped := make(chan struct{}, 1)
		b.reg.Auth().OnInvalidate(func(inv auth.Invalidation) {
			if inv.UserID == annID && inv.Matches(cached) {
				select {
				case dropped <- struct{}{}:
				default:
				}
			}
		})

		a.ok(t, c.root, "/v1/admin/users/set-password", "ann", "ann-new-password")
		start := time.Now()
		select {
		case <-dropped:
			t.Logf("dropped on b after %s", time.Since(start))
		case <-time.After(10 * time.Second):
			t.Fatal("b's cache still holds the token 10 s after the reset on a")
		}
		b.refused(t, rpc.CodeInsufficientPermissions, tok.Token, "/v1/admin/users/read")
	})
}
