package auth_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
)

func TestPermissionsDeclare(t *testing.T) {
	t.Parallel()
	s := auth.NewPermissions(
		auth.Permission{Name: "admin", Title: "Administrator"},
		auth.Permission{Name: "reports.read", Title: "Read reports", Default: true},
	)
	require.NoError(t, s.Declare(auth.Permission{Name: "billing:write"}))

	p, ok := s.Lookup("admin")
	assert.True(t, ok)
	assert.Equal(t, "Administrator", p.Title)
	_, ok = s.Lookup("nope")
	assert.False(t, ok)

	names := func() []string {
		var names []string
		for _, p := range s.List() {
			names = append(names, p.Name)
		}
		return names
	}
	assert.Equal(t, []string{"admin", "billing:write", "reports.read"}, names(), "sorted by name")

	assert.Equal(t, map[string]bool{"reports.read": true}, s.Defaults())
	assert.Equal(t, map[string]bool{"admin": true, "billing:write": true, "reports.read": true}, s.All())

	// Declaring again replaces.
	require.NoError(t, s.Declare(auth.Permission{Name: "admin", Title: "Admin", Default: true}))
	p, _ = s.Lookup("admin")
	assert.Equal(t, "Admin", p.Title)
	assert.Equal(t, map[string]bool{"admin": true, "reports.read": true}, s.Defaults())
	assert.Len(t, s.List(), 3)

	// The maps returned are copies.
	s.All()["injected"] = true
	s.Defaults()["injected"] = true
	_, ok = s.Lookup("injected")
	assert.False(t, ok)
	assert.NotContains(t, s.All(), "injected")
}

func TestPermissionsZeroValue(t *testing.T) {
	t.Parallel()
	var s auth.Permissions
	assert.Empty(t, s.List())
	assert.Empty(t, s.All())
	assert.Empty(t, s.Defaults())
	require.NoError(t, s.Declare(auth.Permission{Name: "admin"}))
	assert.Len(t, s.List(), 1)
}

func TestPermissionsReservedAndBadNames(t *testing.T) {
	t.Parallel()
	bad := []string{
		auth.Anyone, auth.Guest, auth.User, auth.Root, // built-in tags
		"", "Admin", "1admin", "_admin", "-admin", "ad min", "admin!", "adm/in", "ädmin",
		"admin\n", " admin", strings.Repeat("a", 65), "<script>", "a'b",
	}
	for _, name := range bad {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			s := auth.NewPermissions(auth.Permission{Name: "ok"})
			err := s.Declare(auth.Permission{Name: "fine"}, auth.Permission{Name: name})
			require.Error(t, err)
			assert.Contains(t, err.Error(), fmt.Sprintf("%q", name))
			// All or nothing: the good one beside it was not declared either.
			_, ok := s.Lookup("fine")
			assert.False(t, ok)
			assert.Panics(t, func() { auth.NewPermissions(auth.Permission{Name: name}) })
		})
	}

	good := []string{"a", "admin", "users.read", "billing:write", "x-y_z.0", strings.Repeat("a", 64)}
	for _, name := range good {
		assert.NoError(t, auth.NewPermissions().Declare(auth.Permission{Name: name}), name)
	}
}

func TestPermissionsConcurrent(t *testing.T) {
	t.Parallel()
	s := auth.NewPermissions()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				assert.NoError(t, s.Declare(auth.Permission{Name: fmt.Sprintf("p%d_%d", i, j), Default: j%2 == 0}))
				s.List()
				s.Defaults()
				s.All()
				s.Lookup("p0_0")
			}
		})
	}
	wg.Wait()
	assert.Len(t, s.All(), 400)
	assert.Len(t, s.Defaults(), 200)
}

func TestPermissionsApplyAndUndeclared(t *testing.T) {
	t.Parallel()
	ps := auth.NewPermissions(auth.Permission{Name: "admin"}, auth.Permission{Name: "reports"})
	name, ok := ps.Undeclared(map[string]bool{"admin": true, "ghost": false})
	assert.True(t, ok)
	assert.Equal(t, "ghost", name)
	_, ok = ps.Undeclared(map[string]bool{"admin": false, "reports": true})
	assert.False(t, ok)

	old := map[string]bool{"admin": true, "reports": false, "retired": true}
	assert.Equal(t, map[string]bool{"admin": true}, ps.Apply(old, nil, false), "only declared, only true")
	assert.Equal(t, map[string]bool{"reports": true}, ps.Apply(old, map[string]bool{"admin": false, "reports": true}, false), "merge")
	assert.Equal(t, map[string]bool{"reports": true}, ps.Apply(old, map[string]bool{"reports": true}, true), "replace")
	assert.Equal(t, map[string]bool{}, ps.Apply(old, map[string]bool{}, true))
}

func TestPermissionsCheckTag(t *testing.T) {
	t.Parallel()
	ps := auth.NewPermissions(auth.Permission{Name: "admin"})
	for _, tag := range []string{auth.Anyone, auth.Guest, auth.User, auth.Root, "admin"} {
		assert.NoError(t, ps.CheckTag(tag), tag)
	}
	for _, tag := range []string{"", "Admin", "admn", "anyone"} {
		err := ps.CheckTag(tag)
		require.Error(t, err, tag)
		assert.Contains(t, err.Error(), fmt.Sprintf("permission %q is not declared", tag))
	}
	require.NoError(t, ps.Declare(auth.Permission{Name: "admn"}))
	assert.NoError(t, ps.CheckTag("admn"), "declared later, taken from then on")
}
