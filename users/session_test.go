package users_test

import (
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

func TestSigninRoot(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		a := e.ok(t, "", "/v1/session/signin", map[string]string{"username": "ROOT", "password": rootPassword})
		var s signin
		a.Decode(t, &s)
		assert.True(t, strings.HasPrefix(s.Token, "ses_"))
		assert.Equal(t, "1", s.Auth.UserID)
		assert.Equal(t, "root", s.Auth.Username)
		assert.Equal(t, map[string]bool{"admin": true, "billing": true, "reports": true}, s.Auth.Permissions)
		assert.Nil(t, s.Auth.Email)
		require.NotNil(t, s.Auth.Expires)
		assert.WithinDuration(t, e.clock.Now().Add(users.DefaultSessionTTL), *s.Auth.Expires, time.Second)

		// Only the digest is stored.
		var digest []byte
		require.NoError(t, e.db.NewSelect().Table("user_sessions").Column("digest").Scan(context.Background(), &digest))
		assert.Equal(t, auth.Digest(s.Token), digest)
		assert.NotContains(t, e.snapshot(t), s.Token)

		a = e.ok(t, s.Token, "/v1/profile/read")
		var u userRec
		a.Decode(t, &u)
		assert.Equal(t, "1", u.ID)
		assert.Equal(t, "root", u.Name)
		assert.True(t, u.Enabled)
		assert.NotContains(t, a.Raw, "argon2")
	})
}

func TestSigninDescribesTheCaller(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		a := e.ok(t, s.adminTok, "/v1/session/signin")
		var got signin
		a.Decode(t, &got)
		assert.Empty(t, got.Token, "no new token when describing")
		assert.Equal(t, s.admin.ID, got.Auth.UserID)
		assert.Equal(t, "ann", got.Auth.Username)
		assert.Equal(t, map[string]bool{"admin": true, "billing": false, "reports": true}, got.Auth.Permissions)
		require.NotNil(t, got.Auth.Expires)
		assert.Equal(t, 3, e.count(t, "user_sessions"), "three sessions, none new")

		// null credentials are the same as none.
		e.ok(t, s.adminTok, "/v1/session/signin", nil, nil)
		a = e.refused(t, 401, "", "/v1/session/signin")
		assert.Equal(t, "Not authenticated", a.Message)
		a = e.refused(t, 401, "ses_"+strings.Repeat("A", 43), "/v1/session/signin")
		assert.Equal(t, "Not authenticated", a.Message)
	})
}

func TestSigninBadCredentialsLookAlike(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.ok(t, s.rootTok, "/v1/admin/users/set-enabled", "bob", false)
		before := e.snapshot(t)
		var bodies []string
		for _, c := range []map[string]string{
			{"username": "nobody", "password": "whatever-1"},           // unknown user
			{"username": "ann", "password": "wrong-password"},          // wrong password
			{"username": "bob", "password": "bob-password"},            // disabled user, right password
			{"username": "x", "password": "short"},                     // a name that cannot exist
			{"username": "ann", "password": ""},                        // empty password
			{"username": "ann", "password": strings.Repeat("p", 2000)}, // too long to be anyone's
		} {
			a := e.refused(t, 401, "", "/v1/session/signin", c)
			assert.Equal(t, "Bad credentials", a.Message)
			bodies = append(bodies, a.Raw)
		}
		for _, b := range bodies[1:] {
			assert.Equal(t, bodies[0], b, "every refusal is the same answer")
		}
		assert.Equal(t, before, e.snapshot(t), "no session was made")
	})
}

// Signing in as an unknown user must cost the same argon2 work as a wrong
// password: both allocate the hash's memory (the hasher's Memory, 16 MiB
// here), which an answer given without hashing does not. Without the
// dummy hash the unknown user would answer without it, in a fraction of
// the time; BenchmarkSigninEnumeration times the two side by side.
//
// Not parallel: it reads the process's allocations, which tests running
// beside it would add to.
func TestSigninUnknownUserDoesTheHashingWork(t *testing.T) {
	const memKiB = 16 * 1024
	heavy := func(o *users.Options) {
		o.Hasher = auth.NewHasher(auth.HasherOptions{Params: &argon2id.Params{Memory: memKiB, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
		o.SigninLimitPerName.Burst = -1
		o.SigninLimitPerAddr.Burst = -1
		o.SigninLimitPerNameAddr.Burst = -1
	}
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, heavy)
		e.create(t, e.root(t), "ann", "ann-password", nil)
		allocated := func(params ...any) uint64 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			e.refused(t, 401, "", "/v1/session/signin", params...)
			runtime.ReadMemStats(&after)
			return after.TotalAlloc - before.TotalAlloc
		}
		const hash = memKiB << 10
		guest := allocated() // no credentials: who is calling, no hashing
		wrong := allocated(map[string]string{"username": "ann", "password": "wrong-password"})
		unknown := allocated(map[string]string{"username": "nobody", "password": "wrong-password"})
		invalid := allocated(map[string]string{"username": "no", "password": "wrong-password"}) // can name nobody
		t.Logf("allocated: guest %d, wrong password %d, unknown user %d, invalid name %d (a hash: %d)", guest, wrong, unknown, invalid, hash)
		assert.Less(t, guest, uint64(hash/2), "the yardstick: no hash")
		assert.GreaterOrEqual(t, wrong, uint64(hash), "a wrong password is hashed")
		assert.GreaterOrEqual(t, unknown, uint64(hash), "an unknown user costs the hashing work")
		assert.GreaterOrEqual(t, invalid, uint64(hash), "so does a name nobody can have")
	})
}

func TestSigninPermissions(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		n := e.count(t, "user_sessions")
		bob := map[string]string{"username": "bob", "password": "bob-password"}
		a := e.refused(t, 403, "", "/v1/session/signin", bob, []string{"admin"})
		assert.Contains(t, a.Message, "Not authorized")
		assert.Contains(t, a.Message, `"admin"`)
		e.refused(t, 403, "", "/v1/session/signin", bob, []string{})
		assert.Equal(t, n, e.count(t, "user_sessions"), "a refused sign-in makes no session")

		// Any one of them is enough; null does not check.
		e.ok(t, "", "/v1/session/signin", bob, []string{"admin", "reports"})
		e.ok(t, "", "/v1/session/signin", bob, nil)
		e.ok(t, "", "/v1/session/signin", map[string]string{"username": "ann", "password": "ann-password"}, []string{"admin"})
		e.ok(t, "", "/v1/session/signin", map[string]string{"username": "root", "password": rootPassword}, []string{"billing"})

		// Describing the caller checks them too.
		e.refused(t, 403, s.userTok, "/v1/session/signin", nil, []string{"admin"})
		e.ok(t, s.adminTok, "/v1/session/signin", nil, []string{"admin"})

		// Not an array of strings: refused by the schema.
		a = e.refused(t, rpc.CodeInvalidParams, "", "/v1/session/signin", bob, "admin")
		assert.Contains(t, a.Message, "signin_permissions")
		e.refused(t, rpc.CodeInvalidParams, "", "/v1/session/signin", bob, []any{1})
	})
}

func TestSignout(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.ok(t, s.userTok, "/v1/profile/read") // cached now
		other := e.signin(t, "bob", "bob-password")

		a := e.ok(t, s.userTok, "/v1/session/signout")
		assert.Equal(t, 200, a.Code)
		assert.Empty(t, a.Header.Get("WWW-Authenticate"))
		a = e.refused(t, rpc.CodeInsufficientPermissions, s.userTok, "/v1/profile/read")
		assert.Equal(t, `Bearer error="invalid_token"`, a.Header.Get("WWW-Authenticate"), "sign in again")
		a = e.ok(t, other, "/v1/profile/read") // only the current session ended
		assert.Empty(t, a.Header.Get("WWW-Authenticate"))

		// Without a session: 404, which existing clients expect (SPEC §7a).
		e.refused(t, 404, "", "/v1/session/signout")
		e.refused(t, 404, s.userTok, "/v1/session/signout") // a signed-out token is a guest
	})
}

func TestSessionExpires(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		tok := e.root(t)
		e.ok(t, tok, "/v1/profile/read")
		e.clock.Add(users.DefaultSessionTTL - time.Minute)
		e.ok(t, tok, "/v1/profile/read")
		e.clock.Add(2 * time.Minute)
		e.refused(t, rpc.CodeInsufficientPermissions, tok, "/v1/profile/read")
		e.refused(t, 401, tok, "/v1/session/signin")
	})
}

func TestSessionTTLOption(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		tok := e.root(t)
		e.clock.Add(59 * time.Minute)
		e.ok(t, tok, "/v1/profile/read")
		e.clock.Add(2 * time.Minute)
		e.refused(t, rpc.CodeInsufficientPermissions, tok, "/v1/profile/read")
	}, func(o *users.Options) { o.SessionTTL = time.Hour })
}

func TestExpiredSessionsAreDeleted(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		e.root(t)
		e.root(t)
		e.deletedByCleanup(t, "user_sessions", 2, users.DefaultSessionTTL)
	})
}

func TestSignup(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		a := e.ok(t, "", "/v1/session/signup", map[string]any{
			"username": "Carol", "password": "carol-password", "email": "Carol@Example.COM", "telegram_name": "@Carol_TG",
		})
		assert.Equal(t, 200, a.Code)
		assert.Empty(t, a.Data, "signup answers no data")

		tok := e.signin(t, "carol", "carol-password")
		var u userRec
		e.ok(t, tok, "/v1/profile/read").Decode(t, &u)
		assert.Equal(t, "carol", u.Name)
		assert.Equal(t, "carol@example.com", *u.Email)
		assert.False(t, u.EmailConfirmed)
		assert.Equal(t, "carol_tg", *u.TelegramName)
		assert.True(t, u.Enabled)
		assert.Equal(t, map[string]bool{"admin": false, "billing": false, "reports": true}, u.Permissions, "the declared defaults")

		before := e.snapshot(t)
		a = e.refused(t, 409, "", "/v1/session/signup", map[string]any{"username": "CAROL", "password": "another-password"})
		assert.Equal(t, `the user name is already taken`, a.Message)
		a = e.refused(t, 409, "", "/v1/session/signup", map[string]any{"username": "dave", "password": "dave-password", "email": "carol@example.com"})
		assert.Equal(t, `the user name or email is already taken`, a.Message)
		a = e.refused(t, 409, "", "/v1/session/signup", map[string]any{"username": "dave", "telegram_name": "carol_tg"})
		assert.Equal(t, `the user name or telegram name is already taken`, a.Message)
		a = e.refused(t, 409, "", "/v1/session/signup", map[string]any{"username": "dave", "email": "dave@example.com", "telegram_name": "carol_tg"})
		assert.Equal(t, `the user name, email or telegram name is already taken`, a.Message)
		assert.Equal(t, before, e.snapshot(t))

		// Without a password the account exists but nobody can sign in yet.
		e.ok(t, "", "/v1/session/signup", map[string]any{"username": "erin"})
		e.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "erin", "password": "anything-at-all"})
	}, openSignup)
}

// Signup is closed unless Options.SignupEnabled opens it, and follows it
// from call to call.
func TestSignupDisabled(t *testing.T) {
	t.Parallel()
	carol := map[string]any{"username": "carol", "password": "carol-password"}
	t.Run("by default", func(t *testing.T) {
		run(t, func(t *testing.T, e *env) {
			before := e.snapshot(t)
			a := e.refused(t, 403, "", "/v1/session/signup", carol)
			assert.Equal(t, "signup is disabled", a.Message)
			assert.Equal(t, before, e.snapshot(t))
		})
	})
	t.Run("until opened", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T, db *bun.DB) {
			var open atomic.Bool
			e := newEnv(t, db, func(o *users.Options) {
				o.SignupEnabled = func(context.Context) (bool, error) { return open.Load(), nil }
			})
			before := e.snapshot(t)
			a := e.refused(t, 403, "", "/v1/session/signup", carol)
			assert.Equal(t, "signup is disabled", a.Message)
			assert.Equal(t, before, e.snapshot(t))

			open.Store(true)
			e.ok(t, "", "/v1/session/signup", carol)
			e.signin(t, "carol", "carol-password")
			open.Store(false)
			e.refused(t, 403, "", "/v1/session/signup", map[string]any{"username": "dave"})
		})
	})
}

func TestSignupIsRateLimited(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		for i := range 2 {
			a := e.call(t, "", "/v1/session/signup", map[string]any{"username": "user" + string(rune('a'+i))})
			require.Equal(t, 200, a.Code, a.Raw)
		}
		e.refused(t, 429, "", "/v1/session/signup", map[string]any{"username": "userz"})
	}, openSignup, func(o *users.Options) { o.SignupLimit = rpc.RateLimit{Burst: 2, PerSecond: 0.001} })
}

// Signup must not tell whether an email address has an account: a taken
// name and a taken email are answered alike, byte for byte.
func TestSignupTakenNameAndEmailAnswerAlike(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		e.ok(t, "", "/v1/session/signup", map[string]any{"username": "carol", "password": "carol-password", "email": "carol@example.com"})
		before := e.snapshot(t)
		name := e.refused(t, 409, "", "/v1/session/signup", map[string]any{"username": "carol", "password": "some-password", "email": "fresh@example.com"})
		email := e.refused(t, 409, "", "/v1/session/signup", map[string]any{"username": "fresh", "password": "some-password", "email": "carol@example.com"})
		both := e.refused(t, 409, "", "/v1/session/signup", map[string]any{"username": "carol", "password": "some-password", "email": "carol@example.com"})
		assert.Equal(t, name.Raw, email.Raw)
		assert.Equal(t, name.Raw, both.Raw)
		assert.NotContains(t, email.Raw, "carol@example.com")
		assert.Equal(t, before, e.snapshot(t), "nothing stored")
	}, openSignup)
}
