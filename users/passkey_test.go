package users_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/audit"
	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// The relying party of the passkey tests: the app URL's.
const (
	pkAppURL = "http://localhost:8080"
	pkRPID   = "localhost"
)

// runPK runs fn on SQLite and PostgreSQL with an env whose registry and
// module read the test's clock, and whose app URL is pkAppURL.
func runPK(t *testing.T, fn func(t *testing.T, e *env), tweak ...func(*users.Options)) {
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		fn(t, clockedEnv(t, db, append([]func(*users.Options){func(o *users.Options) {
			o.AppURL = func(context.Context) (string, error) { return pkAppURL, nil }
		}}, tweak...)...))
	})
}

type passkeyRec struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used"`
}

// authorize authorizes the session of tok with its password.
func (e *env) authorize(t *testing.T, tok, password string) {
	t.Helper()
	e.ok(t, tok, "/v1/session/authorize", map[string]string{"password": password})
}

// beginPasskey begins a registration in the session of tok.
func (e *env) beginPasskey(t *testing.T, tok string) json.RawMessage {
	t.Helper()
	a := e.ok(t, tok, "/v1/profile/begin-passkey")
	return a.Data
}

// addPasskey registers k for the (authorized) session of tok.
func (e *env) addPasskey(t *testing.T, tok string, k *softKey, name string) passkeyRec {
	t.Helper()
	a := e.ok(t, tok, "/v1/profile/finish-passkey", k.create(t, e.beginPasskey(t, tok)), name)
	var p passkeyRec
	a.Decode(t, &p)
	return p
}

func (e *env) passkeys(t *testing.T, tok string) []passkeyRec {
	t.Helper()
	var list []passkeyRec
	e.ok(t, tok, "/v1/profile/get-passkeys").Decode(t, &list)
	return list
}

// challenge begins a passkey assertion: the options and the token.
func (e *env) challenge(t *testing.T) (json.RawMessage, string) {
	t.Helper()
	a := e.ok(t, "", "/v1/session/begin-passkey-signin")
	var c struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		Token     string `json:"challenge_token"`
	}
	a.Decode(t, &c)
	require.NotEmpty(t, c.Challenge, a.Raw)
	require.True(t, strings.HasPrefix(c.Token, "pkc_"), a.Raw)
	return a.Data, c.Token
}

// passkeySignin signs in with k: begin, assert, signin.
func (e *env) passkeySignin(t *testing.T, k *softKey) *rpctest.Answer {
	t.Helper()
	opts, tok := e.challenge(t)
	return e.call(t, "", "/v1/session/signin", map[string]any{"passkey": k.get(t, opts), "challenge_token": tok})
}

// bobWithPasskey is a staffed env whose bob has authorized and registered
// a passkey held by the returned key.
func bobWithPasskey(t *testing.T, e *env) (*staffed, *softKey, passkeyRec) {
	t.Helper()
	s := newStaffed(t, e)
	e.authorize(t, s.userTok, "bob-password")
	k := newSoftKey(t, pkAppURL, pkRPID)
	return s, k, e.addPasskey(t, s.userTok, k, "Laptop")
}

func TestPasskeyRegisterListRenameRemove(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		// Registering takes a recent authorization.
		a := e.refused(t, 403, s.userTok, "/v1/profile/begin-passkey")
		assert.Equal(t, true, a.Meta["authorization_required"], a.Raw)
		e.authorize(t, s.userTok, "bob-password")

		var o creationOptions
		opts := e.beginPasskey(t, s.userTok)
		require.NoError(t, json.Unmarshal(opts, &o))
		assert.Equal(t, pkRPID, o.RP.ID)
		assert.Equal(t, "bob", o.User.Name)
		assert.Equal(t, "required", o.AuthenticatorSelection.ResidentKey)
		assert.Equal(t, "required", o.AuthenticatorSelection.UserVerification)
		assert.Len(t, unb64(t, o.User.ID), 32, "a random user handle, not the user's id")
		assert.Len(t, unb64(t, o.Challenge), 32)

		k := newSoftKey(t, pkAppURL, pkRPID)
		a = e.ok(t, s.userTok, "/v1/profile/finish-passkey", k.create(t, opts), "  Laptop  ")
		var p passkeyRec
		a.Decode(t, &p)
		assert.Equal(t, "Laptop", p.Name)
		assert.Nil(t, p.LastUsed)
		assert.Equal(t, e.clock.Now().UTC().Truncate(time.Microsecond), p.Created)

		// A second one, unnamed; the first is excluded from its options.
		opts = e.beginPasskey(t, s.userTok)
		require.NoError(t, json.Unmarshal(opts, &o))
		require.Len(t, o.ExcludeCredentials, 1)
		assert.Equal(t, b64(k.id), o.ExcludeCredentials[0].ID)
		k2 := newSoftKey(t, pkAppURL, pkRPID)
		var p2 passkeyRec
		e.ok(t, s.userTok, "/v1/profile/finish-passkey", k2.create(t, opts)).Decode(t, &p2)
		assert.Equal(t, users.DefaultPasskeyName, p2.Name)
		assert.Equal(t, k.handle, k2.handle, "one user handle for all of a user's passkeys")

		list := e.passkeys(t, s.userTok)
		require.Len(t, list, 2)
		assert.Equal(t, []string{p.ID, p2.ID}, []string{list[0].ID, list[1].ID})
		assert.Empty(t, e.passkeys(t, s.adminTok), "ann has none")

		e.ok(t, s.userTok, "/v1/profile/rename-passkey", p2.ID, "Phone")
		assert.Equal(t, "Phone", e.passkeys(t, s.userTok)[1].Name)

		e.ok(t, s.userTok, "/v1/profile/remove-passkey", p.ID)
		list = e.passkeys(t, s.userTok)
		require.Len(t, list, 1)
		assert.Equal(t, p2.ID, list[0].ID)
		// A removed passkey signs in no more.
		assert.Equal(t, 401, e.passkeySignin(t, k).Code)

		// The same authenticator again is a conflict.
		a = e.refused(t, 409, s.userTok, "/v1/profile/finish-passkey", k2.create(t, e.beginPasskey(t, s.userTok)))
		assert.Contains(t, a.Message, "registered already")

		// Removing takes a recent authorization too.
		e.clock.Add(6 * time.Minute)
		a = e.refused(t, 403, s.userTok, "/v1/profile/remove-passkey", p2.ID)
		assert.Equal(t, true, a.Meta["authorization_required"], a.Raw)
		// Renaming does not.
		e.ok(t, s.userTok, "/v1/profile/rename-passkey", p2.ID, "Old phone")
	})
}

func TestPasskeySignIn(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		_, k, p := bobWithPasskey(t, e)

		a := e.passkeySignin(t, k)
		require.Equal(t, 200, a.Code, a.Raw)
		var s signin
		a.Decode(t, &s)
		assert.True(t, strings.HasPrefix(s.Token, "ses_"), a.Raw)
		assert.Equal(t, "bob", s.Auth.Username)
		require.NotNil(t, s.Auth.Expires)
		// The answer is the password sign-in's, member for member.
		pw := e.ok(t, "", "/v1/session/signin", map[string]string{"username": "ann", "password": "ann-password"})
		assert.Equal(t, keysOf(t, pw.Data), keysOf(t, a.Data))
		// The session works.
		var rec map[string]any
		e.ok(t, s.Token, "/v1/profile/read").Decode(t, &rec)
		assert.Equal(t, "bob", rec["name"])

		list := e.passkeys(t, s.Token)
		require.Len(t, list, 1)
		assert.Equal(t, p.ID, list[0].ID)
		require.NotNil(t, list[0].LastUsed)
		assert.Equal(t, e.clock.Now().UTC().Truncate(time.Microsecond), *list[0].LastUsed)

		// signin_permissions apply as with a password.
		opts, tok := e.challenge(t)
		a = e.call(t, "", "/v1/session/signin", map[string]any{"passkey": k.get(t, opts), "challenge_token": tok}, []string{"admin"})
		assert.Equal(t, 403, a.Code, a.Raw)
	})
}

// keysOf are the members of a JSON object, and of its "auth" member.
func keysOf(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	var out []string
	for k := range m {
		out = append(out, k)
	}
	var inner map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(m["auth"], &inner))
	for k := range inner {
		out = append(out, "auth."+k)
	}
	return sortedCopy(out)
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// A captured assertion cannot be played again: its challenge_token is used
// up, and another token's challenge is not the one it signed.
func TestPasskeyReplayRefused(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		_, k, _ := bobWithPasskey(t, e)
		opts, tok := e.challenge(t)
		assertion := k.get(t, opts)
		creds := map[string]any{"passkey": assertion, "challenge_token": tok}
		require.Equal(t, 200, e.call(t, "", "/v1/session/signin", creds).Code)

		a := e.refused(t, 401, "", "/v1/session/signin", creds)
		assert.Contains(t, a.Message, "challenge_token is unknown, used or expired")

		_, tok2 := e.challenge(t)
		a = e.refused(t, 401, "", "/v1/session/signin", map[string]any{"passkey": assertion, "challenge_token": tok2})
		assert.Contains(t, a.Message, "passkey was refused")

		// A token expires.
		opts, tok = e.challenge(t)
		e.clock.Add(users.DefaultPasskeyCeremonyTTL)
		a = e.refused(t, 401, "", "/v1/session/signin", map[string]any{"passkey": k.get(t, opts), "challenge_token": tok})
		assert.Contains(t, a.Message, "challenge_token is unknown, used or expired")
		assert.Equal(t, 200, e.passkeySignin(t, k).Code)
	})
}

func TestPasskeyAuthorize(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s, k, p := bobWithPasskey(t, e)
		e.clock.Add(6 * time.Minute) // the password's authorization is over
		e.refused(t, 403, s.userTok, "/v1/profile/remove-passkey", p.ID)

		opts, tok := e.challenge(t)
		e.ok(t, s.userTok, "/v1/session/authorize", map[string]any{"passkey": k.get(t, opts), "challenge_token": tok})

		// Another user's passkey does not authorize bob.
		e.authorize(t, s.adminTok, "ann-password")
		annKey := newSoftKey(t, pkAppURL, pkRPID)
		e.addPasskey(t, s.adminTok, annKey, "Ann's")
		opts, tok = e.challenge(t)
		a := e.refused(t, 401, s.userTok, "/v1/session/authorize", map[string]any{"passkey": annKey.get(t, opts), "challenge_token": tok})
		assert.Contains(t, a.Message, "not one of yours")

		e.ok(t, s.userTok, "/v1/profile/remove-passkey", p.ID)
		// Without a passkey, there is none to authorize with.
		opts, tok = e.challenge(t)
		a = e.refused(t, 400, s.userTok, "/v1/session/authorize", map[string]any{"passkey": k.get(t, opts), "challenge_token": tok})
		assert.Contains(t, a.Message, "no passkey is enrolled")

		// From Go.
		opts, tok = e.challenge(t)
		ann := e.mod.As(principalOf(t, e, s.adminTok))
		require.NoError(t, ann.Authorize(context.Background(), users.PasskeyCredentials(annKey.get(t, opts), tok), "192.0.2.1"))

		// Bad input, from a user with a passkey.
		for _, c := range []struct {
			creds map[string]any
			msg   string
		}{
			{map[string]any{"passkey": map[string]any{}}, "challenge_token is required"},
			{map[string]any{"passkey": map[string]any{"id": "x"}, "challenge_token": tok}, "not a passkey assertion"},
			{map[string]any{"passkey": "text", "challenge_token": tok}, "not a passkey assertion"},
			{map[string]any{"challenge_token": tok}, "send one of"},
			{map[string]any{"passkey": map[string]any{}, "challenge_token": 5}, "challenge_token must be a string"},
			{map[string]any{"passkey": map[string]any{}, "challenge_token": tok, "password": "x"}, "not several"},
		} {
			a := e.refused(t, 400, s.adminTok, "/v1/session/authorize", c.creds) // ann has a passkey
			assert.Contains(t, a.Message, c.msg, "%v", c.creds)
		}
	})
}

// principalOf is who the token's holder is, for calling from Go.
func principalOf(t *testing.T, e *env, tok string) *auth.Principal {
	t.Helper()
	p, err := e.reg.Auth().Authenticate(context.Background(), tok)
	require.NoError(t, err)
	return p
}

func TestPasskeyWrongOriginOrRelyingParty(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.authorize(t, s.userTok, "bob-password")
		before := e.count(t, "user_passkeys")
		for _, k := range []*softKey{
			newSoftKey(t, "http://localhost:9999", pkRPID),                                      // another origin
			newSoftKey(t, "https://evil.example", pkRPID),                                       // a phishing site
			newSoftKey(t, pkAppURL, "evil.example"),                                             // another relying party
			func() *softKey { k := newSoftKey(t, pkAppURL, pkRPID); k.noUV = true; return k }(), // no user verification
		} {
			a := e.refused(t, 400, s.userTok, "/v1/profile/finish-passkey", k.create(t, e.beginPasskey(t, s.userTok)))
			assert.Contains(t, a.Message, "the passkey was refused", a.Raw)
		}
		assert.Equal(t, before, e.count(t, "user_passkeys"), "nothing stored")

		k := newSoftKey(t, pkAppURL, pkRPID)
		e.addPasskey(t, s.userTok, k, "")
		for _, c := range []struct {
			bend func()
			msg  string
		}{
			{func() { k.origin = "https://evil.example" }, "passkey was refused"},
			{func() { k.origin = pkAppURL; k.rpID = "evil.example" }, "passkey was refused"},
			{func() { k.rpID = pkRPID; k.noUV = true }, "did not verify its user"},
		} {
			c.bend()
			a := e.passkeySignin(t, k)
			assert.Equal(t, 401, a.Code, a.Raw)
			assert.Contains(t, a.Message, c.msg, a.Raw)
		}
		// Nor does it authorize: user verification is required.
		opts, tok := e.challenge(t)
		a := e.refused(t, 401, s.userTok, "/v1/session/authorize", map[string]any{"passkey": k.get(t, opts), "challenge_token": tok})
		assert.Contains(t, a.Message, "passkey was refused")
		k.noUV = false
		assert.Equal(t, 200, e.passkeySignin(t, k).Code)
	})
}

func TestPasskeyCounterBackwards(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		_, k, _ := bobWithPasskey(t, e)
		k.count = 10
		require.Equal(t, 200, e.passkeySignin(t, k).Code) // 11
		clone := *k
		clone.count = 5
		a := e.passkeySignin(t, &clone) // 6: backwards
		assert.Equal(t, 401, a.Code, a.Raw)
		assert.Contains(t, a.Message, "counter went backwards")
		clone.count = 10
		a = e.passkeySignin(t, &clone) // 11: the same
		assert.Equal(t, 401, a.Code, a.Raw)
		require.Equal(t, 200, e.passkeySignin(t, k).Code) // 12
		assert.Contains(t, e.logs.String(), "may be cloned")
	})
}

// A synced passkey (backup eligible and backed up) signs in, and its flags
// must stay consistent: an eligible one that says it is not eligible is
// refused.
func TestPasskeyBackupFlags(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.authorize(t, s.userTok, "bob-password")
		k := newSoftKey(t, pkAppURL, pkRPID)
		k.backup = true
		e.addPasskey(t, s.userTok, k, "Synced")
		require.Equal(t, 200, e.passkeySignin(t, k).Code)
		k.backup = false
		a := e.passkeySignin(t, k)
		assert.Equal(t, 401, a.Code, a.Raw)
		assert.Contains(t, a.Message, "Backup Eligible")
	})
}

func TestPasskeyOfAnotherUser(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s, _, p := bobWithPasskey(t, e)
		e.authorize(t, s.adminTok, "ann-password")
		a := e.refused(t, 404, s.adminTok, "/v1/profile/rename-passkey", p.ID, "Mine")
		assert.Contains(t, a.Message, "not found")
		e.refused(t, 404, s.adminTok, "/v1/profile/remove-passkey", p.ID)
		e.refused(t, 404, s.userTok, "/v1/profile/remove-passkey", "999999")
		assert.Equal(t, "Laptop", e.passkeys(t, s.userTok)[0].Name)
	})
}

// A registration is bound to the session that began it.
func TestPasskeyRegistrationBoundToSession(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.authorize(t, s.userTok, "bob-password")
		other := e.signin(t, "bob", "bob-password")
		k := newSoftKey(t, pkAppURL, pkRPID)
		cred := k.create(t, e.beginPasskey(t, s.userTok))
		a := e.refused(t, 400, other, "/v1/profile/finish-passkey", cred)
		assert.Contains(t, a.Message, "no passkey registration of this session")
		a = e.refused(t, 400, s.adminTok, "/v1/profile/finish-passkey", cred)
		assert.Contains(t, a.Message, "no passkey registration of this session")
		e.ok(t, s.userTok, "/v1/profile/finish-passkey", cred)
		// Used once.
		e.refused(t, 400, s.userTok, "/v1/profile/finish-passkey", cred)
		// And it expires.
		cred = newSoftKey(t, pkAppURL, pkRPID).create(t, e.beginPasskey(t, s.userTok))
		e.clock.Add(users.DefaultPasskeyCeremonyTTL)
		e.refused(t, 400, s.userTok, "/v1/profile/finish-passkey", cred)
		assert.Len(t, e.passkeys(t, s.userTok), 1)
	})
}

// A user holds at most PasskeyOptions.MaxPerUser passkeys: ceremonies
// begun below the cap finish past it as 409, with nothing stored, and
// begin-passkey at the cap is refused too.
func TestPasskeyMaxPerUser(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s, _, _ := bobWithPasskey(t, e) // 1 of 2
		// Two ceremonies begun while there is room for one.
		first := newSoftKey(t, pkAppURL, pkRPID).create(t, e.beginPasskey(t, s.userTok))
		second := newSoftKey(t, pkAppURL, pkRPID).create(t, e.beginPasskey(t, s.userTok))
		e.ok(t, s.userTok, "/v1/profile/finish-passkey", first, "Phone")
		before := e.count(t, "user_passkeys")
		a := e.refused(t, 409, s.userTok, "/v1/profile/finish-passkey", second, "Key")
		assert.Contains(t, a.Message, "you have 2 passkeys, the most one may hold", a.Raw)
		assert.Equal(t, before, e.count(t, "user_passkeys"))
		a = e.refused(t, 409, s.userTok, "/v1/profile/begin-passkey")
		assert.Contains(t, a.Message, "the most one may hold", a.Raw)
		names := []string{}
		for _, p := range e.passkeys(t, s.userTok) {
			names = append(names, p.Name)
		}
		assert.Equal(t, []string{"Laptop", "Phone"}, names)
		// Another user's cap is their own.
		e.authorize(t, s.adminTok, "ann-password")
		e.addPasskey(t, s.adminTok, newSoftKey(t, pkAppURL, pkRPID), "Ann's")
		// Removing one makes room again.
		e.ok(t, s.userTok, "/v1/profile/remove-passkey", e.passkeys(t, s.userTok)[0].ID)
		e.addPasskey(t, s.userTok, newSoftKey(t, pkAppURL, pkRPID), "Key")
		assert.Len(t, e.passkeys(t, s.userTok), 2)
	}, func(o *users.Options) { o.Passkeys.MaxPerUser = 2 })
}

// Registrations finishing at once with room for one store one: the count
// is taken under the user's row lock.
func TestPasskeyMaxPerUserConcurrent(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s, _, _ := bobWithPasskey(t, e) // 1 of 2
		creds := make([]json.RawMessage, 6)
		for i := range creds {
			creds[i] = newSoftKey(t, pkAppURL, pkRPID).create(t, e.beginPasskey(t, s.userTok))
		}
		codes := make(chan int, len(creds))
		var wg sync.WaitGroup
		for _, cred := range creds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- e.call(t, s.userTok, "/v1/profile/finish-passkey", cred).Code
			}()
		}
		wg.Wait()
		close(codes)
		got := map[int]int{}
		for c := range codes {
			got[c]++
		}
		assert.Equal(t, map[int]int{200: 1, 409: len(creds) - 1}, got)
		assert.Len(t, e.passkeys(t, s.userTok), 2)
	}, func(o *users.Options) { o.Passkeys.MaxPerUser = 2 })
}

// Ceremonies begun and never finished are deleted by the periodic cleanup
// once expired, not only when another ceremony begins.
func TestPasskeyCeremoniesCleanedUp(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.authorize(t, s.userTok, "bob-password")
		e.beginPasskey(t, s.userTok)
		e.challenge(t)
		e.deletedByCleanup(t, "user_passkey_ceremonies", 2, users.DefaultPasskeyCeremonyTTL)
	})
}

func TestPasskeyBadInput(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s, k, p := bobWithPasskey(t, e)
		before := e.count(t, "user_passkeys")
		names := e.passkeys(t, s.userTok)
		cred := k.create(t, e.beginPasskey(t, s.userTok))
		long := strings.Repeat("x", 65)
		for _, c := range []struct {
			method, body, msg string
		}{
			{"/v1/profile/finish-passkey", `[]`, ""},
			{"/v1/profile/finish-passkey", `["x"]`, ""},
			{"/v1/profile/finish-passkey", `[{}]`, "not a passkey registration"},
			{"/v1/profile/finish-passkey", `[{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}]`, "not a passkey registration"},
			{"/v1/profile/finish-passkey", `[` + string(cred) + `, 5]`, ""},
			{"/v1/profile/finish-passkey", `[` + string(cred) + `, "` + long + `"]`, "passkey name"},
			{"/v1/profile/finish-passkey", `[` + string(cred) + `, "bad\u0007name"]`, "passkey name"},
			{"/v1/profile/rename-passkey", `["` + p.ID + `"]`, ""},
			{"/v1/profile/rename-passkey", `["` + p.ID + `", ""]`, "passkey name"},
			{"/v1/profile/rename-passkey", `["` + p.ID + `", "   "]`, "passkey name"},
			{"/v1/profile/rename-passkey", `["` + p.ID + `", "` + long + `"]`, "passkey name"},
			{"/v1/profile/rename-passkey", `["` + p.ID + `", "a\u202eb"]`, "passkey name"},
			{"/v1/profile/rename-passkey", `["abc", "x"]`, "is not a passkey id"},
			{"/v1/profile/rename-passkey", `[5, "x"]`, ""},
			{"/v1/profile/remove-passkey", `["0"]`, "is not a passkey id"},
			{"/v1/profile/remove-passkey", `["-1"]`, "is not a passkey id"},
			{"/v1/profile/remove-passkey", `[]`, ""},
			{"/v1/profile/get-passkeys", `[1]`, ""},
			{"/v1/profile/begin-passkey", `[1]`, ""},
			{"/v1/session/begin-passkey-signin", `[1]`, ""},
			{"/v1/session/signin", `[{"passkey": {}, "challenge_token": "x"}]`, "not a passkey assertion"},
			{"/v1/session/signin", `[{"passkey": "x", "challenge_token": "x"}]`, ""},
			{"/v1/session/signin", `[{"passkey": {"id": "x"}}]`, ""},
		} {
			a := e.c.As(s.userTok).Post(t, c.method, c.body)
			require.True(t, a.Code == 400 || a.Code == rpc.CodeInvalidParams, "%s %s: %s", c.method, c.body, a.Raw)
			assert.Equal(t, 400, a.HTTP, "%s %s: %s", c.method, c.body, a.Raw)
			assert.Contains(t, a.Message, c.msg, "%s %s", c.method, c.body)
			assert.NotEmpty(t, a.Message)
		}
		assert.Equal(t, before, e.count(t, "user_passkeys"), "nothing stored")
		assert.Equal(t, names, e.passkeys(t, s.userTok), "nothing renamed")
		// The ceremony was not used up by the bad names: it still finishes.
		e.ok(t, s.userTok, "/v1/profile/finish-passkey", newSoftKey(t, pkAppURL, pkRPID).create(t, e.beginPasskey(t, s.userTok)))

		// Guests and API tokens.
		for _, method := range []string{"/v1/profile/get-passkeys", "/v1/profile/begin-passkey", "/v1/profile/finish-passkey"} {
			e.refused(t, rpc.CodeInsufficientPermissions, "", method, json.RawMessage(cred))
		}
	})
}

// Without an app URL or a relying party, the methods say so.
func TestPasskeyNotConfigured(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.authorize(t, s.userTok, "bob-password")
		a := e.refused(t, 400, s.userTok, "/v1/profile/begin-passkey")
		assert.Contains(t, a.Message, "passkeys are not configured")
		a = e.refused(t, 400, "", "/v1/session/begin-passkey-signin")
		assert.Contains(t, a.Message, "passkeys are not configured")
		assert.Empty(t, e.passkeys(t, s.userTok))
	}, func(o *users.Options) { o.AppURL = nil })

	// An app URL that is unset in settings (an error), or not absolute.
	for _, appURL := range []func(context.Context) (string, error){
		func(context.Context) (string, error) { return "", errors.New("app_url is not set") },
		func(context.Context) (string, error) { return "/relative", nil },
	} {
		runPK(t, func(t *testing.T, e *env) {
			a := e.refused(t, 400, "", "/v1/session/begin-passkey-signin")
			assert.Contains(t, a.Message, "passkeys are not configured")
			assert.Contains(t, e.logs.String(), "no app URL for the passkeys")
		}, func(o *users.Options) { o.AppURL = appURL })
	}
}

// Options.Passkeys names the relying party and origins outright.
func TestPasskeyOptions(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.authorize(t, s.userTok, "bob-password")
		var o creationOptions
		require.NoError(t, json.Unmarshal(e.beginPasskey(t, s.userTok), &o))
		assert.Equal(t, "example.com", o.RP.ID)
		assert.Equal(t, "Example", o.RP.Name)
		k := newSoftKey(t, "https://app.example.com", "example.com")
		e.addPasskey(t, s.userTok, k, "")
		assert.Equal(t, 200, e.passkeySignin(t, k).Code)
	}, func(o *users.Options) {
		o.Passkeys = users.PasskeyOptions{RPID: "example.com", Origins: []string{"https://app.example.com"}, RPName: "Example"}
	})
}

// A user with a passkey gives it as the second factor after the password.
func TestPasskeySecondFactor(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s, k, _ := bobWithPasskey(t, e)
		password := map[string]string{"username": "bob", "password": "bob-password"}
		a := e.refused(t, 401, "", "/v1/session/signin", password)
		sf, ok := a.Meta["second_factor"].(map[string]any)
		require.True(t, ok, a.Raw)
		assert.Equal(t, []any{"passkey"}, sf["methods"])
		token := sf["token"].(string)

		// Another user's passkey does not complete bob's sign-in.
		e.authorize(t, s.adminTok, "ann-password")
		annKey := newSoftKey(t, pkAppURL, pkRPID)
		e.addPasskey(t, s.adminTok, annKey, "")
		opts, tok := e.challenge(t)
		a = e.refused(t, 401, "", "/v1/session/signin", map[string]any{"second_factor_token": token, "passkey": annKey.get(t, opts), "challenge_token": tok})
		assert.Contains(t, a.Message, "not one of yours")

		opts, tok = e.challenge(t)
		assertion := k.get(t, opts)
		a = e.ok(t, "", "/v1/session/signin", map[string]any{"second_factor_token": token, "passkey": assertion, "challenge_token": tok})
		var ses signin
		a.Decode(t, &ses)
		assert.Equal(t, "bob", ses.Auth.Username)
		assert.True(t, strings.HasPrefix(ses.Token, "ses_"))

		// Neither the token nor the assertion works twice.
		a = e.refused(t, 401, "", "/v1/session/signin", map[string]any{"second_factor_token": token, "passkey": assertion, "challenge_token": tok})
		assert.NotEmpty(t, a.Message)
		a = e.refused(t, 401, "", "/v1/session/signin", password)
		token = a.Meta["second_factor"].(map[string]any)["token"].(string)
		a = e.refused(t, 401, "", "/v1/session/signin", map[string]any{"second_factor_token": token, "passkey": assertion, "challenge_token": tok})
		assert.Contains(t, a.Message, "challenge_token is unknown, used or expired")

		// Without passkeys, bob signs in with the password alone again.
		e.authorize(t, s.userTok, "bob-password")
		for _, p := range e.passkeys(t, s.userTok) {
			e.ok(t, s.userTok, "/v1/profile/remove-passkey", p.ID)
		}
		e.signin(t, "bob", "bob-password")
	})
}

// Under a table prefix, the passkey methods use the prefixed tables only.
func TestPasskeyTablePrefix(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		db, queries := storagetest.RecordQueries(db)
		e := clockedEnv(t, db, withPrefix("app_"), func(o *users.Options) {
			o.AppURL = func(context.Context) (string, error) { return pkAppURL, nil }
		})
		s, k, p := bobWithPasskey(t, e)
		require.Equal(t, 200, e.passkeySignin(t, k).Code)
		opts, tok := e.challenge(t)
		e.ok(t, s.userTok, "/v1/session/authorize", map[string]any{"passkey": k.get(t, opts), "challenge_token": tok})
		e.ok(t, s.userTok, "/v1/profile/rename-passkey", p.ID, "Renamed")
		e.ok(t, s.userTok, "/v1/profile/remove-passkey", p.ID)
		for _, table := range []string{"user_passkeys", "user_passkey_handles", "user_passkey_ceremonies"} {
			assert.Empty(t, queries.Naming(table), "a query names %s without the prefix", table)
			assert.NotEmpty(t, queries.Naming("app_"+table), "app_%s", table)
		}
	})
}

// An administrator's remove-factors removes the user's passkeys: the user
// signs in with the password alone again, and the passkey signs in no more.
func TestPasskeyRemovedWithFactors(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s, k, _ := bobWithPasskey(t, e)
		e.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "bob", "password": "bob-password"})
		e.authorize(t, s.adminTok, "ann-password")
		e.ok(t, s.adminTok, "/v1/admin/users/remove-factors", "bob")
		assert.Equal(t, 0, e.count(t, "user_passkeys"))
		assert.Equal(t, 401, e.passkeySignin(t, k).Code)
		e.signin(t, "bob", "bob-password")
	})
}

// A passkey is a second factor like TOTP: it frees a session confined to
// enrolling, it is asked for after the password, and with the last one
// gone the recovery codes go too.
func TestPasskeyAsSecondFactor(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		// Root holds every permission, so it is confined too: made from Go.
		ctx := context.Background()
		_, _, err := e.mod.Create(ctx, users.NewUser{Username: "ann", Password: "ann-password", Permissions: map[string]bool{"admin": true}})
		require.NoError(t, err)
		_, _, err = e.mod.Create(ctx, users.NewUser{Username: "bob", Password: "bob-password"})
		require.NoError(t, err)
		s := &staffed{env: e, adminTok: e.signin(t, "ann", "ann-password"), userTok: e.signin(t, "bob", "bob-password")}
		a := e.refused(t, 403, s.adminTok, "/v1/admin/users/read")
		assert.Equal(t, true, a.Meta[users.SecondFactorRequiredFlag], a.Raw)
		e.authorize(t, s.adminTok, "ann-password")
		e.addPasskey(t, s.adminTok, newSoftKey(t, pkAppURL, pkRPID), "Ann's key")
		e.ok(t, s.adminTok, "/v1/admin/users/read")

		e.authorize(t, s.userTok, "bob-password")
		k := newSoftKey(t, pkAppURL, pkRPID)
		p := e.addPasskey(t, s.userTok, k, "Laptop")
		var rc struct {
			RecoveryCodes []string `json:"recovery_codes"`
		}
		e.ok(t, s.userTok, "/v1/profile/new-recovery-codes").Decode(t, &rc)
		require.Len(t, rc.RecoveryCodes, 10)
		tok := e.secondFactor(t, "bob", "bob-password", "passkey", "recovery_code")
		opts, challenge := e.challenge(t)
		e.ok(t, "", "/v1/session/signin", map[string]any{"second_factor_token": tok, "passkey": k.get(t, opts), "challenge_token": challenge})

		e.ok(t, s.userTok, "/v1/profile/remove-passkey", p.ID)
		assert.Equal(t, 0, e.count(t, "user_recovery_codes"))
		e.signin(t, "bob", "bob-password")
	}, func(o *users.Options) { o.RequireFactorFor = []string{"admin"} })
}

// Adding, renaming and removing a passkey are recorded in the audit trail,
// by the user, with the passkey's id and name and no key material.
func TestPasskeyAudit(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		trail, err := audit.Mount(context.Background(), rpc.New(rpc.Options{Permissions: declared()}), db, audit.Options{})
		require.NoError(t, err)
		e := clockedEnv(t, db, func(o *users.Options) {
			o.AppURL = func(context.Context) (string, error) { return pkAppURL, nil }
			o.Audit = trail
		})
		s, _, p := bobWithPasskey(t, e)
		e.ok(t, s.userTok, "/v1/profile/rename-passkey", p.ID, "Desk")
		e.ok(t, s.userTok, "/v1/profile/remove-passkey", p.ID)
		var got []string
		for _, en := range entries(t, db) {
			if strings.Contains(en.Action, "passkey") {
				require.NotNil(t, en.ActorID)
				require.NotNil(t, en.TargetID)
				assert.Equal(t, s.user.ID, *en.TargetID)
				assert.Equal(t, s.user.ID, fmt.Sprint(*en.ActorID))
				assert.NotContains(t, en.Changes, "public_key")
				got = append(got, en.Action+" "+en.Changes)
			}
		}
		assert.Equal(t, []string{
			`users.add-passkey {"name": "Laptop", "passkey_id": "` + p.ID + `"}`,
			`users.rename-passkey {"name": "Desk", "passkey_id": "` + p.ID + `"}`,
			`users.remove-passkey {"passkey_id": "` + p.ID + `"}`,
		}, normalizeJSON(got))
	})
}

// normalizeJSON writes the JSON after each entry's action one way, as
// PostgreSQL's jsonb and SQLite's text store it differently.
func normalizeJSON(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		action, js, _ := strings.Cut(l, " ")
		var v map[string]any
		if json.Unmarshal([]byte(js), &v) == nil {
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			keys = sortedCopy(keys)
			parts := make([]string, len(keys))
			for j, k := range keys {
				b, _ := json.Marshal(v[k])
				parts[j] = fmt.Sprintf("%q: %s", k, b)
			}
			js = "{" + strings.Join(parts, ", ") + "}"
		}
		out[i] = action + " " + js
	}
	return out
}

// With user verification only preferred, a passkey whose authenticator did
// not verify its user is a second factor after the password, but does not
// sign in alone.
func TestPasskeyWithoutUserVerification(t *testing.T) {
	t.Parallel()
	runPK(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		e.authorize(t, s.userTok, "bob-password")
		k := newSoftKey(t, pkAppURL, pkRPID)
		k.noUV = true
		e.addPasskey(t, s.userTok, k, "Key")
		a := e.passkeySignin(t, k)
		assert.Equal(t, 401, a.Code, a.Raw)
		assert.Contains(t, a.Message, "did not verify its user")

		a = e.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "bob", "password": "bob-password"})
		token := a.Meta["second_factor"].(map[string]any)["token"].(string)
		opts, tok := e.challenge(t)
		e.ok(t, "", "/v1/session/signin", map[string]any{"second_factor_token": token, "passkey": k.get(t, opts), "challenge_token": tok})
	}, func(o *users.Options) { o.Passkeys.UserVerification = "preferred" })
}

// A ceremony begun on one instance finishes on another, once: its state
// is in the database, never in one process or with the client.
func TestPasskeyAcrossInstances(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		appURL := func(o *users.Options) {
			o.AppURL = func(context.Context) (string, error) { return pkAppURL, nil }
		}
		in := twoInstances(t, db, appURL)
		a, b := in[0], in[1]
		s := newStaffed(t, a)
		a.authorize(t, s.userTok, "bob-password")
		k := newSoftKey(t, pkAppURL, pkRPID)
		cred := k.create(t, a.beginPasskey(t, s.userTok))
		b.ok(t, s.userTok, "/v1/profile/finish-passkey", cred, "Laptop")
		a.refused(t, 400, s.userTok, "/v1/profile/finish-passkey", cred) // used on b

		opts, tok := b.challenge(t)
		creds := map[string]any{"passkey": k.get(t, opts), "challenge_token": tok}
		a.ok(t, "", "/v1/session/signin", creds)
		r := b.refused(t, 401, "", "/v1/session/signin", creds)
		assert.Contains(t, r.Message, "challenge_token is unknown, used or expired")

		// One assertion sent to both instances at once signs in once.
		opts, tok = a.challenge(t)
		creds = map[string]any{"passkey": k.get(t, opts), "challenge_token": tok}
		codes := make(chan int, 8)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- in[i%2].c.Call(t, "/v1/session/signin", creds).Code
			}()
		}
		wg.Wait()
		close(codes)
		got := map[int]int{}
		for c := range codes {
			got[c]++
		}
		// The others are refused: used (401), or past the sign-in limit of
		// bob from this address (429), as eight passwords would be.
		assert.Equal(t, 1, got[200], "%v", got)
		assert.Equal(t, 7, got[401]+got[429], "%v", got)
	})
}
