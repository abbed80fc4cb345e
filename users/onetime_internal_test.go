package users

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// The storage rules of one-time tokens, below the methods.

func mountForTokens(t *testing.T, db *bun.DB, now func() time.Time) (*Module, []int64) {
	t.Helper()
	hasher := auth.NewHasher(auth.HasherOptions{Params: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}})
	m, err := Mount(context.Background(), rpc.New(rpc.Options{Permissions: auth.NewPermissions(auth.Permission{Name: "admin"})}), db, Options{RootPassword: "root-password-1", Hasher: hasher, Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	var ids []int64
	for i := range 4 {
		row, err := m.insertUser(context.Background(), &newUser{name: fmt.Sprintf("user%d", i), email: fmt.Sprintf("user%d@example.com", i), noPassword: true, enabled: true}, nil, "users.create")
		require.NoError(t, err)
		ids = append(ids, row.ID)
	}
	return m, ids
}

func issue(t *testing.T, m *Module, userID int64, kind auth.Kind, now time.Time, ttl time.Duration) string {
	t.Helper()
	var plain string
	err := m.db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		plain, _, err = m.tables.issueToken(ctx, tx, userID, kind, fmt.Sprintf("u%d@example.com", userID), now, ttl)
		return err
	})
	require.NoError(t, err)
	return plain
}

// Many concurrent consumers of each of several tokens: each token is taken
// exactly once.
func TestConsumeTokenOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		m, ids := mountForTokens(t, db, nil)
		now := time.Now().UTC()
		var tokens []string
		for _, id := range ids {
			tokens = append(tokens, issue(t, m, id, auth.KindResetPass, now, time.Hour))
		}
		const perToken = 16
		taken := make([]atomic.Int32, len(tokens))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, tok := range tokens {
			for range perToken {
				wg.Go(func() {
					<-start
					err := m.db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
						row, err := m.tables.consumeToken(ctx, tx, tok, auth.KindResetPass, now)
						if err == nil && row != nil {
							taken[i].Add(1)
						}
						return err
					})
					assert.NoError(t, err)
				})
			}
		}
		close(start)
		wg.Wait()
		for i := range tokens {
			assert.Equal(t, int32(1), taken[i].Load(), "token %d", i)
		}
		n, err := db.NewSelect().Table("user_tokens").Count(context.Background())
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

func TestTokenStorageRules(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		var clock atomic.Int64 // the module's time, for the cleanup
		clock.Store(now.UnixNano())
		m, ids := mountForTokens(t, db, func() time.Time { return time.Unix(0, clock.Load()).UTC() })

		// A new token voids the older of its kind, for its user only.
		first := issue(t, m, ids[0], auth.KindResetPass, now, time.Hour)
		other := issue(t, m, ids[1], auth.KindResetPass, now, time.Hour)
		confirm := issue(t, m, ids[0], auth.KindConfirmEmail, now, time.Hour)
		second := issue(t, m, ids[0], auth.KindResetPass, now, time.Hour)
		for tok, alive := range map[string]bool{first: false, other: true, confirm: true, second: true} {
			kind, _ := auth.TokenKind(tok)
			row, err := m.tables.findToken(ctx, db, tok, kind, now)
			require.NoError(t, err)
			assert.Equal(t, alive, row != nil, tok[:4])
		}

		// The wrong kind is not found and not taken.
		row, err := m.tables.consumeToken(ctx, db, second, auth.KindConfirmEmail, now)
		require.NoError(t, err)
		assert.Nil(t, row)
		row, err = m.tables.consumeToken(ctx, db, second, auth.KindResetPass, now)
		require.NoError(t, err)
		require.NotNil(t, row)
		assert.Equal(t, ids[0], row.UserID)
		assert.Equal(t, "u"+fmt.Sprint(ids[0])+"@example.com", row.Email)

		// Expiry: refused from the instant it expires.
		exp := issue(t, m, ids[2], auth.KindConfirmEmail, now, time.Minute)
		row, err = m.tables.findToken(ctx, db, exp, auth.KindConfirmEmail, now.Add(time.Minute-time.Microsecond))
		require.NoError(t, err)
		assert.NotNil(t, row)
		row, err = m.tables.findToken(ctx, db, exp, auth.KindConfirmEmail, now.Add(time.Minute))
		require.NoError(t, err)
		assert.Nil(t, row)
		err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			row, err := m.tables.consumeToken(ctx, tx, exp, auth.KindConfirmEmail, now.Add(time.Minute))
			assert.Nil(t, row)
			return err
		})
		require.NoError(t, err)

		// The cleanup deletes the expired ones only.
		clock.Store(now.Add(time.Minute).UnixNano())
		n, err := m.deleteExpiredTokens(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(0), n, "the expired token was taken above")
		issue(t, m, ids[3], auth.KindConfirmEmail, now, time.Second)
		n, err = m.deleteExpiredTokens(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		left, err := db.NewSelect().Table("user_tokens").Count(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(2), left, "other's reset and user0's confirmation")

		// Hostile texts are just unknown digests.
		for _, s := range []string{"", "'", "' OR 1=1 --", "\x00", string(make([]byte, 70000))} {
			row, err := m.tables.consumeToken(ctx, db, s, auth.KindResetPass, now)
			require.NoError(t, err)
			assert.Nil(t, row)
		}
	})
}
