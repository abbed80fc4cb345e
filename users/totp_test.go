package users_test

import (
	"context"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/mailer/mailertest"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// RFC 6238, appendix B: the SHA-1 test vectors (8 digits, the 20-byte
// ASCII seed), through the library the module computes codes with.
func TestTOTPVectors(t *testing.T) {
	t.Parallel()
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	for unix, want := range map[int64]string{
		59: "94287082", 1111111109: "07081804", 1111111111: "14050471",
		1234567890: "89005924", 2000000000: "69279037", 20000000000: "65353130",
	} {
		got, err := totp.GenerateCodeCustom(secret, time.Unix(unix, 0), totp.ValidateOpts{Period: 30, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1})
		require.NoError(t, err)
		assert.Equal(t, want, got, "T=%d", unix)
	}
}

func testKeyring(t *testing.T) *settings.Keyring {
	t.Helper()
	k, err := settings.ParseKeyring(settings.GenerateKey())
	require.NoError(t, err)
	return k
}

// totpEnv is a clocked env with a keyring.
func totpEnv(t *testing.T, db *bun.DB, tweak ...func(*users.Options)) *env {
	t.Helper()
	k := testKeyring(t)
	return clockedEnv(t, db, append([]func(*users.Options){func(o *users.Options) { o.Keyring = k }}, tweak...)...)
}

// code is the TOTP code of secret at the env's time, shifted by steps.
func (e *env) code(t *testing.T, secret string, steps int) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.clock.Now().Add(time.Duration(steps)*30*time.Second), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	require.NoError(t, err)
	return c
}

type enrolment struct {
	Secret string `json:"secret"`
	URI    string `json:"uri"`
	QR     string `json:"qr"`
}

// enrolTOTP enrols TOTP for the holder of token (authorizing first with
// password) and returns the secret and the recovery codes.
func (e *env) enrolTOTP(t *testing.T, token, password string) (string, []string) {
	t.Helper()
	e.ok(t, token, "/v1/session/authorize", map[string]string{"password": password})
	var en enrolment
	e.ok(t, token, "/v1/profile/begin-totp").Decode(t, &en)
	var rc struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	e.ok(t, token, "/v1/profile/confirm-totp", e.code(t, en.Secret, 0)).Decode(t, &rc)
	return en.Secret, rc.RecoveryCodes
}

func TestTOTP(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := totpEnv(t, db)
		root := e.root(t)
		e.create(t, root, "bob", "bob-password", nil)
		bob := e.signin(t, "bob", "bob-password")

		// Enrolling takes a recent authorization.
		a := e.refused(t, 403, bob, "/v1/profile/begin-totp")
		assert.Equal(t, true, a.Meta["authorization_required"])
		e.ok(t, bob, "/v1/session/authorize", map[string]string{"password": "bob-password"})
		var en enrolment
		e.ok(t, bob, "/v1/profile/begin-totp").Decode(t, &en)
		u, err := url.Parse(en.URI)
		require.NoError(t, err)
		assert.Equal(t, "otpauth", u.Scheme)
		assert.Equal(t, "totp", u.Host)
		assert.Equal(t, en.Secret, u.Query().Get("secret"))
		assert.Contains(t, u.Path, "bob")
		require.True(t, strings.HasPrefix(en.QR, "data:image/png;base64,"), en.QR[:40])
		png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(en.QR, "data:image/png;base64,"))
		require.NoError(t, err)
		assert.Equal(t, "\x89PNG", string(png[:4]))

		// Not yet a factor: sign-in as before.
		e.signin(t, "bob", "bob-password")
		a = e.refused(t, 400, bob, "/v1/profile/confirm-totp", e.code(t, en.Secret, 3))
		assert.Contains(t, a.Message, "wrong code")
		var rc struct {
			RecoveryCodes []string `json:"recovery_codes"`
		}
		e.ok(t, bob, "/v1/profile/confirm-totp", e.code(t, en.Secret, 0)).Decode(t, &rc)
		require.Len(t, rc.RecoveryCodes, 10)

		// The stored secret is sealed, never in the clear.
		var raw []map[string]any
		require.NoError(t, e.db.NewSelect().Table("user_totp").Scan(context.Background(), &raw))
		require.Len(t, raw, 1)
		dump := fmt.Sprint(raw)
		assert.NotContains(t, dump, en.Secret)
		assert.Contains(t, dump, "enc:v1:")
		var digests []map[string]any
		require.NoError(t, e.db.NewSelect().Table("user_recovery_codes").Scan(context.Background(), &digests))
		assert.Len(t, digests, 10)
		for _, c := range rc.RecoveryCodes {
			assert.NotContains(t, fmt.Sprint(digests), c)
		}

		// Sign-in asks for the second factor; a code completes it once.
		tok := e.secondFactor(t, "bob", "bob-password", "recovery_code", "totp")
		e.clock.Add(30 * time.Second) // the confirming code's step is spent
		code := e.code(t, en.Secret, 0)
		a = e.complete(t, tok, map[string]any{"totp_code": code})
		require.Equal(t, 200, a.Code, a.Raw)
		tok = e.secondFactor(t, "bob", "bob-password", "recovery_code", "totp")
		a = e.complete(t, tok, map[string]any{"totp_code": code})
		require.Equal(t, 401, a.Code, a.Raw)
		assert.Equal(t, "wrong or used TOTP code", a.Message)
		// The previous step's code is refused too, the next one taken.
		a = e.complete(t, tok, map[string]any{"totp_code": e.code(t, en.Secret, -1)})
		require.Equal(t, 401, a.Code, a.Raw)
		a = e.complete(t, tok, map[string]any{"totp_code": e.code(t, en.Secret, 1)})
		require.Equal(t, 200, a.Code, a.Raw)

		// A recovery code works once, typed in any case.
		tok = e.secondFactor(t, "bob", "bob-password", "recovery_code", "totp")
		a = e.complete(t, tok, map[string]any{"recovery_code": strings.ToUpper(rc.RecoveryCodes[0])})
		require.Equal(t, 200, a.Code, a.Raw)
		var s signin
		a.Decode(t, &s)
		tok = e.secondFactor(t, "bob", "bob-password", "recovery_code", "totp")
		a = e.complete(t, tok, map[string]any{"recovery_code": rc.RecoveryCodes[0]})
		require.Equal(t, 401, a.Code, a.Raw)
		assert.Equal(t, "wrong or used recovery code", a.Message)

		// get-second-factors
		var f users.SecondFactors
		e.ok(t, s.Token, "/v1/profile/get-second-factors").Decode(t, &f)
		assert.Equal(t, users.SecondFactors{Methods: []string{"recovery_code", "totp"}, RecoveryCodes: 9, TOTPAvailable: true}, f)

		// TOTP authorizes; new recovery codes void the old ones.
		e.clock.Add(2 * time.Minute)
		e.ok(t, s.Token, "/v1/session/authorize", map[string]any{"totp_code": e.code(t, en.Secret, 0)})
		old := slices.Clone(rc.RecoveryCodes) // Decode reuses the array
		e.ok(t, s.Token, "/v1/profile/new-recovery-codes").Decode(t, &rc)
		require.Len(t, rc.RecoveryCodes, 10)
		a = e.refused(t, 401, s.Token, "/v1/session/authorize", map[string]any{"recovery_code": old[5]})
		assert.Equal(t, "wrong or used recovery code", a.Message, "the old codes are void")
		e.ok(t, s.Token, "/v1/session/authorize", map[string]any{"recovery_code": rc.RecoveryCodes[3]})

		// A second enrolment gives no new codes; removing TOTP drops them.
		_, again := e.enrolTOTP(t, s.Token, "bob-password")
		assert.Empty(t, again)
		e.clock.Add(time.Minute)
		e.ok(t, s.Token, "/v1/profile/remove-totp")
		assert.Equal(t, 204, e.ok(t, s.Token, "/v1/profile/remove-totp").Code)
		assert.Equal(t, 0, e.count(t, "user_recovery_codes"))
		assert.Equal(t, 0, e.count(t, "user_totp"))
		e.signin(t, "bob", "bob-password")
		a = e.refused(t, 409, s.Token, "/v1/profile/new-recovery-codes")
		assert.Contains(t, a.Message, "enrol TOTP or a passkey first")
	})
}

// Wrong codes are failed sign-ins: limited per name and address, shared
// through the database.
func TestTOTPGuessesLimited(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := totpEnv(t, db)
		root := e.root(t)
		e.create(t, root, "bob", "bob-password", nil)
		bob := e.signin(t, "bob", "bob-password")
		secret, _ := e.enrolTOTP(t, bob, "bob-password")
		e.clock.Add(time.Hour)

		tok := e.secondFactor(t, "bob", "bob-password", "recovery_code", "totp")
		wrong := fmt.Sprintf("%06d", (atoi(e.code(t, secret, 0))+1)%1000000)
		for range 4 {
			a := e.complete(t, tok, map[string]any{"totp_code": wrong})
			require.Equal(t, 401, a.Code, a.Raw)
		}
		a := e.complete(t, tok, map[string]any{"totp_code": wrong})
		require.Equal(t, 429, a.Code, a.Raw)
		a = e.complete(t, tok, map[string]any{"totp_code": e.code(t, secret, 0)})
		require.Equal(t, 429, a.Code, a.Raw)

		// Another instance on the same database counts the same attempts.
		other := newEnvRPC(t, e.db, func(o *rpc.Options) { o.Clock = regClock{e.clock} }, func(o *users.Options) {
			o.Now = e.clock.Now
			o.Keyring = nil
		})
		a = other.call(t, "", "/v1/session/signin", map[string]any{"second_factor_token": tok, "totp_code": e.code(t, secret, 0)})
		require.Equal(t, 429, a.Code, a.Raw)
	})
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// Without a keyring TOTP is refused with a clear message, and nothing is
// stored.
func TestTOTPWithoutKeyring(t *testing.T) {
	t.Parallel()
	e := clockedEnv(t, storagetest.SQLite(t))
	root := e.root(t)
	e.ok(t, root, "/v1/session/authorize", map[string]string{"password": rootPassword})
	a := e.refused(t, 400, root, "/v1/profile/begin-totp")
	assert.Contains(t, a.Message, "no keyring")
	a = e.refused(t, 400, root, "/v1/profile/confirm-totp", "123456")
	assert.Contains(t, a.Message, "no keyring")
	assert.Equal(t, 0, e.count(t, "user_totp"))
	var f users.SecondFactors
	e.ok(t, root, "/v1/profile/get-second-factors").Decode(t, &f)
	assert.False(t, f.TOTPAvailable)
}

// Bad input to each new method: 4xx, a clear message, nothing stored.
func TestFactorMethodsBadInput(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := totpEnv(t, db)
		root := e.root(t)
		e.create(t, root, "bob", "bob-password", nil)
		bob := e.signin(t, "bob", "bob-password")
		e.ok(t, bob, "/v1/session/authorize", map[string]string{"password": "bob-password"})
		e.ok(t, root, "/v1/session/authorize", map[string]string{"password": rootPassword})
		snap := func() string {
			return e.snapshot(t) + fmt.Sprint(e.count(t, "user_totp"), e.count(t, "user_recovery_codes"))
		}
		before := snap()
		for _, c := range []struct {
			method string
			params []any
			code   int
			msg    string
		}{
			{"/v1/profile/confirm-totp", []any{"123456"}, 409, "no TOTP enrolment is pending"},
			{"/v1/profile/confirm-totp", []any{"12345"}, 400, "6 digits"},
			{"/v1/profile/confirm-totp", []any{"12345a"}, 400, "6 digits"},
			{"/v1/profile/confirm-totp", []any{123456}, rpc.CodeInvalidParams, "code"},
			{"/v1/profile/confirm-totp", nil, rpc.CodeInvalidParams, "code"},
			{"/v1/profile/begin-totp", []any{"x"}, rpc.CodeInvalidParams, "the method takes 0"},
			{"/v1/profile/new-recovery-codes", nil, 409, "enrol TOTP or a passkey first"},
			{"/v1/profile/remove-totp", []any{1}, rpc.CodeInvalidParams, "the method takes 0"},
			{"/v1/session/authorize", []any{map[string]any{"totp_code": "123456"}}, 400, "no totp is enrolled"},
			{"/v1/session/authorize", []any{map[string]any{"recovery_code": "abcde-abcde"}}, 400, "no recovery_code is enrolled"},
			{"/v1/session/authorize", []any{map[string]any{"totp_code": 123456}}, 400, "no totp is enrolled"},
			{"/v1/admin/users/remove-factors", []any{"bob"}, rpc.CodeInsufficientPermissions, ""},
			{"/v1/profile/get-second-factors", []any{1}, rpc.CodeInvalidParams, "the method takes 0"},
			{"/v1/profile/new-recovery-codes", []any{"x"}, rpc.CodeInvalidParams, "the method takes 0"},
			{"/v1/profile/confirm-totp", []any{strings.Repeat("1", 100000)}, 400, "6 digits"},
		} {
			a := e.refused(t, c.code, bob, c.method, c.params...)
			assert.Contains(t, a.Message, c.msg, "%s %v", c.method, c.params)
			assert.Less(t, len(a.Raw), 1000, "the refusal does not echo the input")
		}
		for _, params := range [][]any{nil, {map[string]any{}}, {1, 2}} {
			e.refused(t, rpc.CodeInvalidParams, root, "/v1/admin/users/remove-factors", params...)
		}
		e.refused(t, 404, root, "/v1/admin/users/remove-factors", "nobody")
		e.refused(t, 404, root, "/v1/admin/users/remove-factors", "999999")
		assert.Equal(t, before, snap())
	})
}

// An administrator removes a user's factors after a fresh authorize: the
// user's sessions end, the user is mailed, and signs in with a password
// alone.
func TestRemoveFactors(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		srv := mailertest.NewServer(t, mailertest.Options{Username: smtpUser, Password: smtpPassword})
		e := totpEnv(t, db, withMail(srv))
		s := newStaffed(t, e)
		e.createWithEmail(t, s.rootTok, "carl", "carl-password", "carl@example.com")
		carl := e.signin(t, "carl", "carl-password")
		e.enrolTOTP(t, carl, "carl-password")
		var removed []int64
		e.mod.OnRemoveFactors(func(_ context.Context, _ bun.Tx, id int64) error {
			removed = append(removed, id)
			return nil
		})

		a := e.refused(t, 403, s.adminTok, "/v1/admin/users/remove-factors", "carl")
		assert.Equal(t, true, a.Meta["authorization_required"])
		assert.Equal(t, 1, e.count(t, "user_totp"))

		e.ok(t, s.adminTok, "/v1/session/authorize", map[string]string{"password": "ann-password"})
		e.ok(t, s.adminTok, "/v1/admin/users/remove-factors", "carl")
		assert.Equal(t, 0, e.count(t, "user_totp"))
		assert.Equal(t, 0, e.count(t, "user_recovery_codes"))
		assert.Len(t, removed, 1)
		e.refused(t, rpc.CodeInsufficientPermissions, carl, "/v1/profile/read")
		e.signin(t, "carl", "carl-password")
		msg := srv.Wait(t, 1, mailWait)
		assert.Equal(t, []string{"carl@example.com"}, msg.To)
		assert.Equal(t, "Your second factors were removed", msg.Subject)

		// Only root removes root's.
		a = e.refused(t, 403, s.adminTok, "/v1/admin/users/remove-factors", "root")
		assert.Contains(t, a.Message, "only root")
	})
}

// A host requires a factor of administrators: one without a factor signs
// in only to enrol.
func TestRequireFactorFor(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := totpEnv(t, db, func(o *users.Options) { o.RequireFactorFor = []string{"admin"} })
		root := e.signin(t, "root", rootPassword)
		a := e.refused(t, 403, root, "/v1/admin/users/read")
		assert.Equal(t, true, a.Meta[users.SecondFactorRequiredFlag], a.Raw)
		assert.Contains(t, a.Message, "enrol a second factor first")
		var f users.SecondFactors
		e.ok(t, root, "/v1/profile/get-second-factors").Decode(t, &f)
		assert.True(t, f.Required)
		e.ok(t, root, "/v1/profile/read")

		secret, _ := e.enrolTOTP(t, root, rootPassword)
		e.ok(t, root, "/v1/admin/users/read")
		e.create(t, root, "bob", "bob-password", nil)
		bob := e.signin(t, "bob", "bob-password") // holds no admin: free
		e.ok(t, bob, "/v1/profile/get-sessions")

		// Granting admin confines bob's sessions at once.
		e.clock.Add(time.Minute)
		e.ok(t, root, "/v1/session/authorize", map[string]any{"totp_code": e.code(t, secret, 0)})
		e.ok(t, root, "/v1/admin/users/set-permissions", "bob", map[string]bool{"admin": true})
		bob = e.signin(t, "bob", "bob-password")
		a = e.refused(t, 403, bob, "/v1/profile/get-sessions")
		assert.Equal(t, true, a.Meta[users.SecondFactorRequiredFlag], a.Raw)
		e.ok(t, bob, "/v1/session/signout")
	})
}

// Two instances on one database: a code, and a second-factor token, are
// used once across them.
func TestTOTPOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ring := testKeyring(t)
		a := clockedEnv(t, db, func(o *users.Options) { o.Keyring = ring })
		b := newEnvRPC(t, db, func(o *rpc.Options) { o.Clock = regClock{a.clock} }, func(o *users.Options) {
			o.Now = a.clock.Now
			o.Keyring = ring
		})
		b.clock = a.clock
		root := a.root(t)
		a.create(t, root, "bob", "bob-password", nil)
		bob := a.signin(t, "bob", "bob-password")
		secret, _ := a.enrolTOTP(t, bob, "bob-password")
		a.clock.Add(time.Minute)

		code := a.code(t, secret, 0)
		tokA := a.secondFactor(t, "bob", "bob-password", "recovery_code", "totp")
		tokB := b.secondFactor(t, "bob", "bob-password", "recovery_code", "totp")
		r := a.complete(t, tokA, map[string]any{"totp_code": code})
		require.Equal(t, 200, r.Code, r.Raw)
		r = b.complete(t, tokB, map[string]any{"totp_code": code})
		require.Equal(t, 401, r.Code, r.Raw)
		assert.Equal(t, "wrong or used TOTP code", r.Message)
		r = b.complete(t, tokA, map[string]any{"totp_code": a.code(t, secret, 1)})
		require.Equal(t, 401, r.Code, r.Raw)
		assert.Contains(t, r.Message, "invalid or expired", "the token was spent on the other instance")
		r = b.complete(t, tokB, map[string]any{"totp_code": a.code(t, secret, 1)})
		require.Equal(t, 200, r.Code, r.Raw)
	})
}
