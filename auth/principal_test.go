package auth_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/auth"
)

func TestPrincipalAllowed(t *testing.T) {
	t.Parallel()
	var (
		guest        *auth.Principal
		emptyCaller  = &auth.Principal{} // no user: counts as a guest
		root         = &auth.Principal{UserID: auth.RootUserID, Username: auth.RootUsername, Kind: auth.KindSession}
		rootAPI      = &auth.Principal{UserID: auth.RootUserID, Username: auth.RootUsername, Kind: auth.KindAPIToken, Permissions: map[string]bool{"reports": true}}
		rootAPIBare  = &auth.Principal{UserID: auth.RootUserID, Username: auth.RootUsername, Kind: auth.KindAPIToken}
		admin        = &auth.Principal{UserID: 100, Kind: auth.KindSession, Permissions: map[string]bool{"admin": true, "reports": false}}
		plain        = &auth.Principal{UserID: 101, Kind: auth.KindSession}
		userAPIToken = &auth.Principal{UserID: 100, Kind: auth.KindAPIToken, Permissions: map[string]bool{"reports": true}}
	)
	cases := []struct {
		name string
		p    *auth.Principal
		tags []string
		want bool
	}{
		{"no tags: nobody", root, nil, false},
		{"no tags: guest", guest, []string{}, false},

		{"anyone: guest", guest, []string{auth.Anyone}, true},
		{"anyone: user", plain, []string{auth.Anyone}, true},
		{"anyone: root", root, []string{auth.Anyone}, true},

		{"guest tag: guest", guest, []string{auth.Guest}, true},
		{"guest tag: caller without user", emptyCaller, []string{auth.Guest}, true},
		{"guest tag: user", plain, []string{auth.Guest}, false},
		{"guest tag: root", root, []string{auth.Guest}, false},
		{"guest tag: API token", userAPIToken, []string{auth.Guest}, false},

		{"user tag: guest", guest, []string{auth.User}, false},
		{"user tag: caller without user", emptyCaller, []string{auth.User}, false},
		{"user tag: user", plain, []string{auth.User}, true},
		{"user tag: root", root, []string{auth.User}, true},
		{"user tag: API token", userAPIToken, []string{auth.User}, true},

		{"root tag: guest", guest, []string{auth.Root}, false},
		{"root tag: admin", admin, []string{auth.Root}, false},
		{"root tag: root", root, []string{auth.Root}, true},
		{"root tag: root's API token", rootAPIBare, []string{auth.Root}, false},

		{"declared: guest", guest, []string{"admin"}, false},
		{"declared: holder", admin, []string{"admin"}, true},
		{"declared: held false", admin, []string{"reports"}, false},
		{"declared: not held", plain, []string{"admin"}, false},
		{"declared: root holds all", root, []string{"admin"}, true},
		{"declared: root holds undeclared too", root, []string{"anything"}, true},
		{"declared: API token's own", userAPIToken, []string{"reports"}, true},
		{"declared: API token lacks", userAPIToken, []string{"admin"}, false},
		{"declared: root's API token limited to its own", rootAPI, []string{"admin"}, false},
		{"declared: root's API token holds its own", rootAPI, []string{"reports"}, true},
		{"declared: root's bare API token", rootAPIBare, []string{"admin"}, false},

		{"any of: guest passes guest", guest, []string{auth.User, auth.Guest}, true},
		{"any of: user passes user", plain, []string{auth.Guest, auth.User}, true},
		{"any of: admin passes declared", admin, []string{auth.Root, "admin"}, true},
		{"any of: none passes", plain, []string{auth.Root, "admin", auth.Guest}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, c.p.Allowed(c.tags))
		})
	}
}

func TestPrincipalNilIsGuest(t *testing.T) {
	t.Parallel()
	var p *auth.Principal
	assert.False(t, p.Authenticated())
	assert.False(t, p.IsRoot())
	assert.False(t, p.Has("admin"))
}

func TestPrincipalContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	assert.Nil(t, auth.FromContext(ctx))
	p := &auth.Principal{UserID: 5}
	assert.Same(t, p, auth.FromContext(auth.NewContext(ctx, p)))
	assert.Nil(t, auth.FromContext(auth.NewContext(ctx, nil)))
}
