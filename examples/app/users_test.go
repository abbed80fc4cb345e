package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signin signs in over HTTP and returns the session token.
func (a *testApp) signin(t *testing.T, name, password string) string {
	t.Helper()
	r := a.call(t, "", "/v1/session/signin", fmt.Sprintf(`[{"username":%q,"password":%q}]`, name, password))
	require.Equal(t, 200, r.HTTP, r.Raw)
	var s struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal(r.Result.Data, &s))
	return s.Token
}

// A fresh app answers 403 to signup until an administrator opens it with
// the signup_enabled setting; closing it again refuses the next signup.
func TestSignupClosedUntilEnabled(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		carol := `[{"username":"carol","password":"carol-password"}]`
		r := a.call(t, "", "/v1/session/signup", carol)
		require.Equal(t, 403, r.code(), r.Raw)
		assert.Equal(t, 403, r.HTTP)
		assert.Equal(t, "signup is disabled", r.Error.Message)
		assert.Equal(t, 401, a.call(t, "", "/v1/session/signin", carol).code(), "nobody was created")

		root := a.signin(t, "root", "root-password-for-tests")
		r = a.call(t, root, "/v1/admin/settings/update", `[{"signup_enabled":true}]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		r = a.call(t, "", "/v1/session/signup", carol)
		require.Equal(t, 200, r.HTTP, r.Raw)
		a.signin(t, "carol", "carol-password")

		r = a.call(t, root, "/v1/admin/settings/update", `[{"signup_enabled":false}]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		assert.Equal(t, 403, a.call(t, "", "/v1/session/signup", `[{"username":"dave"}]`).code())
	})
}

// The users module as a new user of the example app meets it: root signs
// in, creates an admin and a plain user; each calls what it may and is
// refused what it may not; a disabled user is refused at once; bad input
// stores nothing; a flood of wrong sign-ins does not lock others out.
func TestUsersModule(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		root := a.signin(t, "root", "root-password-for-tests")

		r := a.call(t, root, "/v1/admin/users/create", `[{"username":"admin1","password":"admin1-password","permissions":{"admin":true}}]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		r = a.call(t, root, "/v1/admin/users/create", `[{"username":"plain1"}]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		var plain struct{ Password string }
		require.NoError(t, json.Unmarshal(r.Result.Data, &plain))
		require.NotEmpty(t, plain.Password, "a generated password is answered")

		admin := a.signin(t, "admin1", "admin1-password")
		user := a.signin(t, "plain1", plain.Password)

		r = a.call(t, admin, "/v1/admin/users/read", `[{"where":{"search":["like","PLAIN"]}}]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		assert.Equal(t, float64(1), r.Result.Meta["total"])
		assert.Equal(t, 403, a.call(t, admin, "/v1/admin/users/set-password", `["root","new-root-password"]`).code())
		assert.Equal(t, 403, a.call(t, admin, "/v1/admin/users/delete", `["admin1"]`).code())
		assert.Equal(t, 403, a.call(t, admin, "/v1/admin/users/set-permissions", `["root",{}]`).code())

		assert.Equal(t, 200, a.call(t, user, "/v1/profile/read", ``).code())
		r = a.call(t, user, "/v1/admin/users/read", ``)
		assert.Equal(t, -32801, r.code(), r.Raw)
		assert.Equal(t, 401, r.HTTP)

		// Bad input: 4xx, nothing stored.
		before := a.call(t, root, "/v1/admin/users/read", ``).Raw
		for _, body := range []string{`[{"username":"'; drop table users; --"}]`, `[{"username":5}]`, `[{"username":"ok_name","email":"nope"}]`, `[`} {
			r := a.call(t, root, "/v1/admin/users/create", body)
			assert.GreaterOrEqual(t, r.HTTP, 400, r.Raw)
			assert.Less(t, r.HTTP, 500, r.Raw)
		}
		assert.Equal(t, before, a.call(t, root, "/v1/admin/users/read", ``).Raw)

		// Disabled: refused on the very next call.
		require.Equal(t, 200, a.call(t, admin, "/v1/admin/users/set-enabled", `["plain1", false]`).HTTP)
		assert.Equal(t, -32801, a.call(t, user, "/v1/profile/read", ``).code())

		// 200 parallel wrong sign-ins: refused (401 or 429), and root still signs in.
		var wg sync.WaitGroup
		for range 200 {
			wg.Go(func() {
				r := a.call(t, "", "/v1/session/signin", `[{"username":"admin1","password":"wrong-password"}]`)
				assert.Contains(t, []int{401, 429}, r.code())
			})
		}
		wg.Wait()
		assert.Equal(t, 200, a.call(t, root, "/v1/session/signin", ``).code(), "root's session still works")
	})
}
