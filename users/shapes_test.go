package users_test

import (
	"crypto/md5"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/users"
)

// The answer shapes @softvisio/core front ends read (SPEC §7a): signin's auth
// and settings, user rows' gravatar and avatar, a read by options.id.

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

type seedAuth struct {
	Token string `json:"token"`
	Auth  struct {
		IsAuthenticated bool    `json:"is_authenticated"`
		Username        string  `json:"username"`
		Gravatar        string  `json:"gravatar"`
		Avatar          *string `json:"avatar"`
	} `json:"auth"`
	Settings map[string]any `json:"settings"`
}

func TestSigninAnswersTheSeedsSession(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		root := e.root(t)
		e.ok(t, root, "/v1/admin/users/create", map[string]any{"username": "ann", "password": "ann-password", "email": "Ann@Example.com"})
		var in seedAuth
		e.ok(t, "", "/v1/session/signin", map[string]string{"username": "ann", "password": "ann-password"}).Decode(t, &in)
		require.NotEmpty(t, in.Token)
		assert.True(t, in.Auth.IsAuthenticated)
		assert.Equal(t, md5hex("ann@example.com"), in.Auth.Gravatar)
		require.NotNil(t, in.Auth.Avatar)
		assert.Equal(t, "https://s.gravatar.com/avatar/"+md5hex("ann@example.com")+"?d=identicon", *in.Auth.Avatar)
		assert.NotNil(t, in.Settings)
		assert.Empty(t, in.Settings)

		var again seedAuth
		e.ok(t, in.Token, "/v1/session/signin").Decode(t, &again)
		assert.Empty(t, again.Token, "no new token")
		assert.Equal(t, in.Auth, again.Auth)

		e.refused(t, 401, "", "/v1/session/signin")

		// Rows, and one row by options.id.
		var rows []map[string]any
		e.ok(t, root, "/v1/admin/users/read").Decode(t, &rows)
		require.Len(t, rows, 1)
		assert.Equal(t, *in.Auth.Avatar, rows[0]["avatar"])
		var one map[string]any
		e.ok(t, root, "/v1/admin/users/read", map[string]any{"id": rows[0]["id"]}).Decode(t, &one)
		assert.Equal(t, rows[0], one)
		e.refused(t, 404, root, "/v1/admin/users/read", map[string]any{"id": "999999"})
		e.refused(t, 404, root, "/v1/admin/users/read", map[string]any{"id": "1"}) // root is never listed
	})
}

func TestAvatarURLOption(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		var p map[string]any
		e.ok(t, e.root(t), "/v1/profile/read").Decode(t, &p)
		assert.Equal(t, md5hex("root"), p["gravatar"], "no email: the name's")
		assert.Equal(t, "https://pics.example/"+md5hex("root")+".png", p["avatar"])
	}, func(o *users.Options) { o.AvatarURL = "https://pics.example/{gravatar}.png" })

	run(t, func(t *testing.T, e *env) {
		var p map[string]any
		e.ok(t, e.root(t), "/v1/profile/read").Decode(t, &p)
		assert.Contains(t, p, "avatar")
		assert.Nil(t, p["avatar"], "avatars off")
	}, func(o *users.Options) { o.NoAvatar = true })
}
