package users_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// pins is a second factor of the tests' own, plugged in through the seam
// as TOTP and passkeys are: each enrolled user has a pin.
type pins struct {
	mu  sync.Mutex
	pin map[string]string // by user name
}

func (p *pins) set(name, pin string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pin[name] = pin
}

func (p *pins) verifier() users.Verifier {
	return users.Verifier{
		Field: "pin", Method: "pin",
		Enrolled: func(_ context.Context, u *users.User) (bool, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			_, ok := p.pin[u.Name]
			return ok, nil
		},
		Verify: func(_ context.Context, u *users.User, c users.Credentials) error {
			got, _, err := c.String("pin")
			if err != nil {
				return err
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			if want, ok := p.pin[u.Name]; !ok || got != want {
				return &users.Error{Reason: users.ErrUnauthenticated, Message: "wrong pin"}
			}
			return nil
		},
	}
}

// pinEnv is a clocked env whose users may have a pin as second factor.
func pinEnv(t *testing.T, db *bun.DB, tweak ...func(*users.Options)) (*env, *pins) {
	t.Helper()
	e := clockedEnv(t, db, tweak...)
	p := &pins{pin: map[string]string{}}
	e.mod.AddVerifier(p.verifier())
	return e, p
}

// secondFactor signs in with a password and requires the 401 that asks
// for a second factor; it returns the token.
func (e *env) secondFactor(t *testing.T, name, password string, methods ...string) string {
	t.Helper()
	a := e.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": name, "password": password})
	require.NotContains(t, a.Raw, `"ses_`, "no session for a password alone")
	sf, ok := a.Meta["second_factor"].(map[string]any)
	require.True(t, ok, a.Raw)
	tok, _ := sf["token"].(string)
	require.True(t, strings.HasPrefix(tok, "sfa_"), a.Raw)
	var got []string
	for _, m := range sf["methods"].([]any) {
		got = append(got, m.(string))
	}
	require.Equal(t, methods, got, a.Raw)
	return tok
}

// pinnedBob is a pinEnv whose bob has the pin 1111, and the token of
// bob's sign-in waiting for it.
func pinnedBob(t *testing.T, db *bun.DB) (*env, string) {
	t.Helper()
	e, p := pinEnv(t, db)
	e.create(t, e.root(t), "bob", "bob-password", nil)
	p.set("bob", "1111")
	return e, e.secondFactor(t, "bob", "bob-password", "pin")
}

// complete completes a sign-in with a second factor's credentials.
func (e *env) complete(t *testing.T, token string, factor map[string]any) *rpctest.Answer {
	t.Helper()
	creds := map[string]any{"second_factor_token": token}
	for k, v := range factor {
		creds[k] = v
	}
	return e.call(t, "", "/v1/session/signin", creds)
}

func TestSecondFactorSignIn(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e, p := pinEnv(t, db)
		root := e.root(t)
		e.create(t, root, "bob", "bob-password", nil)
		e.signin(t, "bob", "bob-password") // no factor: as before

		p.set("bob", "1234")
		sessions := e.count(t, "user_sessions")
		tok := e.secondFactor(t, "bob", "bob-password", "pin")
		assert.Equal(t, sessions, e.count(t, "user_sessions"), "no session before the second factor")

		a := e.complete(t, tok, map[string]any{"pin": "0000"})
		require.Equal(t, 401, a.Code, a.Raw)
		assert.Equal(t, "wrong pin", a.Message)

		a = e.complete(t, tok, map[string]any{"pin": "1234"})
		require.Equal(t, 200, a.Code, a.Raw)
		var s signin
		a.Decode(t, &s)
		require.True(t, strings.HasPrefix(s.Token, "ses_"), a.Raw)
		assert.Equal(t, "bob", s.Auth.Username)
		e.ok(t, s.Token, "/v1/profile/read")

		// Single-use.
		a = e.complete(t, tok, map[string]any{"pin": "1234"})
		require.Equal(t, 401, a.Code, a.Raw)
		assert.Contains(t, a.Message, "invalid or expired")

		// A wrong password still says nothing of factors.
		a = e.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "bob", "password": "wrong-password"})
		assert.NotContains(t, a.Meta, "second_factor")

		// The factor authorizes too; an unenrolled user cannot use it.
		e.ok(t, s.Token, "/v1/session/authorize", map[string]any{"pin": "1234"})
		e.ok(t, s.Token, "/v1/profile/sign-out-all-sessions")
		a = e.refused(t, 400, root, "/v1/session/authorize", map[string]any{"pin": "1234"})
		assert.Contains(t, a.Message, "no pin is enrolled")

		// Go: SignIn refuses with the SecondFactor, CompleteSignIn opens.
		ctx := context.Background()
		_, err := e.mod.SignIn(ctx, users.SignIn{Username: "bob", Password: "bob-password", Addr: "192.0.2.7"})
		var ue *users.Error
		require.True(t, errors.As(err, &ue), "%v", err)
		require.ErrorIs(t, err, users.ErrUnauthenticated)
		require.NotNil(t, ue.SecondFactor)
		assert.Equal(t, []string{"pin"}, ue.SecondFactor.Methods)
		ses, err := e.mod.CompleteSignIn(ctx, users.SecondFactorSignIn{Token: ue.SecondFactor.Token, Credentials: credsOf(t, "pin", "1234"), Addr: "192.0.2.7"})
		require.NoError(t, err)
		assert.Equal(t, "bob", ses.User.Name)
	})
}

func credsOf(t *testing.T, field, value string) users.Credentials {
	t.Helper()
	c := users.PasswordCredentials(value)
	return users.Credentials{field: c["password"]}
}

// The token expires, is bound to its user, and wrong codes are failed
// sign-ins of that user.
func TestSecondFactorToken(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e, p := pinEnv(t, db)
		root := e.root(t)
		e.create(t, root, "bob", "bob-password", nil)
		e.create(t, root, "ann", "ann-password", nil)
		p.set("bob", "1111")
		p.set("ann", "2222")

		tok := e.secondFactor(t, "bob", "bob-password", "pin")
		e.clock.Add(users.DefaultSecondFactorTTL)
		a := e.complete(t, tok, map[string]any{"pin": "1111"})
		require.Equal(t, 401, a.Code, a.Raw)
		assert.Contains(t, a.Message, "invalid or expired")

		// Bound to bob: ann's pin does not complete it, nor does naming ann.
		tok = e.secondFactor(t, "bob", "bob-password", "pin")
		e.refused(t, 401, "", "/v1/session/signin", map[string]any{"second_factor_token": tok, "pin": "2222"})
		e.refused(t, 401, "", "/v1/session/signin", map[string]any{"second_factor_token": tok, "username": "ann", "pin": "2222"})
		a = e.ok(t, "", "/v1/session/signin", map[string]any{"second_factor_token": tok, "username": "Bob", "pin": "1111"})
		var s signin
		a.Decode(t, &s)
		assert.Equal(t, "bob", s.Auth.Username)

		// Five attempts per name and address (the password's among them):
		// the fifth wrong pin is refused by the limit, the right one too.
		e.clock.Add(time.Hour)
		tok = e.secondFactor(t, "ann", "ann-password", "pin")
		for range 4 {
			e.refused(t, 401, "", "/v1/session/signin", map[string]any{"second_factor_token": tok, "pin": "0000"})
		}
		a = e.refused(t, 429, "", "/v1/session/signin", map[string]any{"second_factor_token": tok, "pin": "0000"})
		assert.NotEmpty(t, a.Header.Get("Retry-After"))
		e.refused(t, 429, "", "/v1/session/signin", map[string]any{"second_factor_token": tok, "pin": "2222"})
		e.clock.Add(time.Minute)
		e.ok(t, "", "/v1/session/signin", map[string]any{"second_factor_token": tok, "pin": "2222"})
	})
}

// Second-factor tokens never completed are deleted by the periodic
// cleanup once expired, with the other one-time tokens.
func TestSecondFactorTokensCleanedUp(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e, _ := pinnedBob(t, db)
		e.deletedByCleanup(t, "user_tokens", 1, users.DefaultSecondFactorTTL)
	})
}

// Bad completions answer 4xx with a clear message and open nothing.
func TestSecondFactorBadInput(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e, tok := pinnedBob(t, db)
		before := e.snapshot(t)
		for _, c := range []struct {
			creds any
			code  int
			msg   string
		}{
			{map[string]any{"second_factor_token": 5, "pin": "1111"}, rpc.CodeInvalidParams, "at /second_factor_token: expected a string"},
			{map[string]any{"second_factor_token": "", "pin": "1111"}, rpc.CodeInvalidParams, "second_factor_token"},
			{map[string]any{"second_factor_token": tok}, 400, "send one of"},
			{map[string]any{"second_factor_token": tok, "password": "bob-password"}, 400, "not a second factor"},
			{map[string]any{"second_factor_token": tok, "pin": 1111}, 400, "pin must be a string"},
			{map[string]any{"second_factor_token": tok, "pin": "1111", "nope": true}, 400, "unknown field"},
			{map[string]any{"second_factor_token": "ses_abc", "pin": "1111"}, 401, "invalid or expired"},
			{map[string]any{"second_factor_token": "sfa_" + strings.Repeat("A", 43), "pin": "1111"}, 401, "invalid or expired"},
		} {
			a := e.refused(t, c.code, "", "/v1/session/signin", c.creds)
			assert.Contains(t, a.Message, c.msg, "%v", c.creds)
		}
		assert.Equal(t, before, e.snapshot(t))
		e.ok(t, "", "/v1/session/signin", map[string]any{"second_factor_token": tok, "pin": "1111"})
	})
}
