package auth_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
)

func TestCheckGrant(t *testing.T) {
	t.Parallel()
	admin := &auth.Principal{UserID: 7, Kind: auth.KindSession, Permissions: map[string]bool{"admin": true, "reports": true}}
	token := &auth.Principal{UserID: 7, Kind: auth.KindAPIToken, TokenID: 3, Permissions: map[string]bool{"admin": true, "reports": true}}
	root := &auth.Principal{UserID: auth.RootUserID, Kind: auth.KindSession}
	rootToken := &auth.Principal{UserID: auth.RootUserID, Kind: auth.KindAPIToken, Permissions: map[string]bool{"reports": true}}
	none := map[string]bool{}
	for _, c := range []struct {
		name     string
		p        *auth.Principal
		from, to map[string]bool
		grant    *auth.GrantError // CheckGrant's answer
		change   *auth.GrantError // CheckChange's
	}{
		{name: "nothing changes", p: nil, from: map[string]bool{"billing": true}, to: map[string]bool{"billing": true, "x": false}},
		{name: "grant held", p: admin, from: none, to: map[string]bool{"reports": true}},
		{name: "grant not held", p: admin, from: none, to: map[string]bool{"billing": true, "reports": true},
			grant: &auth.GrantError{Permission: "billing"}, change: &auth.GrantError{Permission: "billing"}},
		{name: "revoke held", p: admin, from: map[string]bool{"admin": true}, to: none},
		{name: "revoke not held", p: admin, from: map[string]bool{"billing": true}, to: map[string]bool{"billing": false},
			change: &auth.GrantError{Permission: "billing", Revoke: true}},
		{name: "first in name order", p: admin, from: map[string]bool{"billing": true}, to: map[string]bool{"audit": true},
			grant: &auth.GrantError{Permission: "audit"}, change: &auth.GrantError{Permission: "audit"}},
		{name: "revoke before grant in name order", p: admin, from: map[string]bool{"audit": true}, to: map[string]bool{"billing": true},
			grant: &auth.GrantError{Permission: "billing"}, change: &auth.GrantError{Permission: "audit", Revoke: true}},
		{name: "a token grants nothing it holds", p: token, from: none, to: map[string]bool{"reports": true},
			grant: &auth.GrantError{Permission: "reports", ByToken: true}, change: &auth.GrantError{Permission: "reports", ByToken: true}},
		{name: "a token's missing permission is named first", p: token, from: none, to: map[string]bool{"reports": true, "billing": true},
			grant: &auth.GrantError{Permission: "billing"}, change: &auth.GrantError{Permission: "billing"}},
		{name: "a token revokes", p: token, from: map[string]bool{"admin": true}, to: none},
		{name: "root grants all", p: root, from: none, to: map[string]bool{"anything": true}},
		{name: "root's token is a token", p: rootToken, from: none, to: map[string]bool{"reports": true},
			grant: &auth.GrantError{Permission: "reports", ByToken: true}, change: &auth.GrantError{Permission: "reports", ByToken: true}},
		{name: "a guest grants nothing", p: nil, from: none, to: map[string]bool{"reports": true},
			grant: &auth.GrantError{Permission: "reports"}, change: &auth.GrantError{Permission: "reports"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, check := range []struct {
				name string
				fn   func(*auth.Principal, map[string]bool, map[string]bool) error
				want *auth.GrantError
			}{{"CheckGrant", auth.CheckGrant, c.grant}, {"CheckChange", auth.CheckChange, c.change}} {
				err := check.fn(c.p, c.from, c.to)
				if check.want == nil {
					assert.NoError(t, err, check.name)
					continue
				}
				var ge *auth.GrantError
				require.True(t, errors.As(err, &ge), "%s: %v", check.name, err)
				assert.Equal(t, check.want, ge, check.name)
				assert.ErrorIs(t, err, auth.ErrGrant, check.name)
			}
		})
	}
}

func TestGrantErrorMessages(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `auth: may not grant permission "billing": the caller does not hold it`, (&auth.GrantError{Permission: "billing"}).Error())
	assert.Equal(t, `auth: may not revoke permission "billing": the caller does not hold it`, (&auth.GrantError{Permission: "billing", Revoke: true}).Error())
	assert.Equal(t, `auth: an API token cannot grant permissions (here "billing")`, (&auth.GrantError{Permission: "billing", ByToken: true}).Error())
}
