package main

import (
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/storage/storagetest"
)

// Two instances of the example app on one PostgreSQL: a session ended
// from another session on instance a closes its socket on instance b with
// 4000 within a second, and only its socket: the other session's socket
// on b stays open. Another user's session id answers 404; ending every
// other session takes a fresh authorization.
func TestEndSessionAcrossInstances(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	a := startApp(t, dsn)
	b := startApp(t, dsn)
	root := a.signin(t, "root", "root-password-for-tests")
	require.Equal(t, 200, a.call(t, root, "/v1/admin/users/create", `[{"username":"bob","password":"bob-password-1"}]`).code())

	keep := a.signin(t, "bob", "bob-password-1")
	end := a.signin(t, "bob", "bob-password-1")
	keepSock := b.dial(t, keep, "/api/")
	endSock := b.dial(t, end, "/api/")
	keepSock.call("/ping", `[]`) // joined
	endSock.call("/ping", `[]`)

	endID := currentSession(t, a, end)
	rootID := currentSession(t, a, root)
	r := a.call(t, keep, "/v1/profile/sign-out-session", `["`+rootID+`"]`)
	assert.Equal(t, 404, r.code(), "root's session is not bob's: %s", r.Raw)

	start := time.Now()
	r = a.call(t, keep, "/v1/profile/sign-out-session", `["`+endID+`"]`)
	require.Equal(t, 200, r.code(), r.Raw)
	assert.Equal(t, websocket.StatusCode(4000), endSock.closedWith(eventWait))
	t.Logf("closed on b %s after the sign-out on a", time.Since(start))
	assert.Contains(t, keepSock.call("/v1/profile/read", `[]`), `"name":"bob"`, "the other session's socket stays open")

	// Every other session: 403 until the session authorizes.
	third := a.signin(t, "bob", "bob-password-1")
	r = a.call(t, keep, "/v1/profile/sign-out-all-sessions", ``)
	assert.Equal(t, 403, r.code(), r.Raw)
	assert.True(t, strings.Contains(r.Raw, `"authorization_required":true`), r.Raw)
	require.Equal(t, 200, b.call(t, keep, "/v1/session/authorize", `[{"password":"bob-password-1"}]`).code())
	// Authorized on b, seen on a once the invalidation crosses (within a second).
	until(t, "a sees the authorization made on b", func() bool {
		return a.call(t, keep, "/v1/profile/sign-out-all-sessions", ``).code() == 200
	})
	assert.Equal(t, 401, a.call(t, third, "/v1/profile/read", ``).HTTP)
	assert.Contains(t, keepSock.call("/v1/profile/read", `[]`), `"name":"bob"`)
}
