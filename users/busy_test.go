package users_test

import (
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/stretchr/testify/assert"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// Every call that hashes a password answers a full hashing queue with 429
// and Retry-After, as sign-in does, never with an internal error.
func TestSetPasswordWhileHasherBusy(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, func(o *users.Options) {
			o.Hasher = auth.NewHasher(auth.HasherOptions{
				Params:        &argon2id.Params{Memory: 8 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32},
				MaxConcurrent: 1,
				MaxQueue:      1,
				MaxWait:       20 * time.Millisecond,
			})
		})
		root := e.root(t)
		e.create(t, root, "ann", "ann-password", nil)

		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				a := e.call(t, root, "/v1/admin/users/set-password", "ann", "another-password")
				mu.Lock()
				codes[a.Code]++
				mu.Unlock()
				if a.Code == 429 {
					assert.NotEmpty(t, a.Header.Get("Retry-After"))
				}
			})
		}
		wg.Wait()
		t.Logf("codes: %v", codes)
		assert.Zero(t, codes[500], "a busy hasher is not an internal error")
		assert.Positive(t, codes[429], "a full queue answers 429")
		assert.Equal(t, 16, codes[200]+codes[429])
	})
}
