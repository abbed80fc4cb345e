package users_test

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/logbuf"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

var printedPassword = regexp.MustCompile(`with the password (\S+)\n`)

// mount mounts the module on a registry of its own, as another process would.
func mount(t *testing.T, db *bun.DB, opts users.Options) (*rpc.Registry, *users.Module, error) {
	t.Helper()
	reg := rpc.New(rpc.Options{Permissions: declared()})
	if opts.Hasher == nil {
		opts.Hasher = fastHasher()
	}
	m, err := users.Mount(context.Background(), reg, db, opts)
	if err == nil {
		t.Cleanup(func() { _ = m.Close(context.Background()) })
	}
	return reg, m, err
}

func TestRootIsCreatedWithAGeneratedPassword(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		out := new(logbuf.Buffer)
		_, m, err := mount(t, db, users.Options{Out: out})
		require.NoError(t, err)
		match := printedPassword.FindStringSubmatch(out.String())
		require.NotNil(t, match, "the generated password is printed: %q", out.String())

		root, err := m.Lookup(t.Context(), auth.RootUserID)
		require.NoError(t, err)
		assert.Equal(t, "root", root.Name)
		assert.True(t, root.Enabled)
		assert.True(t, root.IsRoot())
		assert.Equal(t, map[string]bool{"admin": true, "billing": true, "reports": true}, m.Permissions(root))

		// A later start prints nothing and keeps the password, even when given one.
		out2 := new(logbuf.Buffer)
		_, _, err = mount(t, db, users.Options{Out: out2, RootPassword: "another-root-password"})
		require.NoError(t, err)
		assert.Empty(t, out2.String())

		e := newEnv(t, db, func(o *users.Options) { o.RootPassword = "" })
		e.signin(t, "root", match[1])
		e.refused(t, 401, "", "/v1/session/signin", map[string]string{"username": "root", "password": "another-root-password"})
	})
}

func TestRootPasswordFromTheHost(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		_, _, err := mount(t, db, users.Options{RootPassword: "short"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "root password: password must be at least 8 characters")

		out := new(logbuf.Buffer)
		e := newEnv(t, db, func(o *users.Options) { o.Out = out })
		assert.Empty(t, out.String(), "a given password is not printed")
		e.root(t)
	})
}

// Two processes starting at once on an empty database: one creates root,
// and only that one prints the password.
func TestRootCreationRace(t *testing.T) {
	t.Parallel()
	dsns := map[string]func(testing.TB) string{"sqlite": storagetest.SQLiteDSN, "postgres": storagetest.PostgresDSN}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			dsn := dsns[name](t)
			const n = 4
			outs := make([]*logbuf.Buffer, n)
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				outs[i] = new(logbuf.Buffer)
				db, err := storage.Open(t.Context(), dsn, storage.WithMaxOpenConns(2))
				require.NoError(t, err)
				t.Cleanup(func() { db.Close() })
				wg.Go(func() {
					_, _, errs[i] = mount(t, db, users.Options{Out: outs[i]})
				})
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
			printed := 0
			for _, o := range outs {
				if printedPassword.MatchString(o.String()) {
					printed++
				}
			}
			assert.Equal(t, 1, printed, "exactly one process printed the password")
		})
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		u, err := e.mod.Lookup(t.Context(), mustID(t, s.admin.ID))
		require.NoError(t, err)
		assert.Equal(t, "ann", u.Name)
		assert.False(t, u.IsRoot())
		assert.Equal(t, map[string]bool{"admin": true, "reports": true}, u.Permissions)
		assert.Equal(t, map[string]bool{"admin": true, "reports": true}, e.mod.Permissions(u))
		assert.WithinDuration(t, e.clock.Now(), u.Created, time.Second)
		assert.Equal(t, time.UTC, u.Created.Location())

		_, err = e.mod.Lookup(t.Context(), 424242)
		assert.ErrorIs(t, err, users.ErrNotFound)
	})
}
