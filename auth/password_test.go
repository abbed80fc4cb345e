package auth_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
)

// fastParams keep most tests quick; the defaults are tested on their own.
var fastParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func newFastHasher(opts auth.HasherOptions) *auth.Hasher {
	if opts.Params == nil {
		opts.Params = fastParams
	}
	return auth.NewHasher(opts)
}

func TestHasherRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newFastHasher(auth.HasherOptions{})

	hash, err := h.Hash(ctx, "correct horse battery staple")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(hash, "$argon2id$v=19$m=1024,t=1,p=1$"), hash)

	ok, err := h.Verify(ctx, "correct horse battery staple", hash)
	require.NoError(t, err)
	assert.True(t, ok)

	for _, wrong := range []string{"correct horse battery stapl", "Correct horse battery staple", "", strings.Repeat("x", 1024)} {
		ok, err = h.Verify(ctx, wrong, hash)
		require.NoError(t, err)
		assert.False(t, ok, "accepted %q", wrong)
	}

	// Salted: the same password never hashes the same way twice.
	again, err := h.Hash(ctx, "correct horse battery staple")
	require.NoError(t, err)
	assert.NotEqual(t, hash, again)
}

func TestHasherDefaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := auth.NewHasher(auth.HasherOptions{})

	hash, err := h.Hash(ctx, "password1")
	require.NoError(t, err)
	p, salt, key, err := argon2id.DecodeHash(hash)
	require.NoError(t, err)
	assert.Equal(t, argon2id.Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}, *p)
	assert.Len(t, salt, 16)
	assert.Len(t, key, 32)
	assert.False(t, h.NeedsRehash(hash))

	ok, err := h.Verify(ctx, "password1", hash)
	require.NoError(t, err)
	assert.True(t, ok)

	err = h.CheckPassword("1234567")
	var perr *auth.PasswordError
	require.ErrorAs(t, err, &perr)
	assert.Equal(t, "password must be at least 8 characters", err.Error())
	assert.NoError(t, h.CheckPassword("12345678"))
	assert.NoError(t, h.CheckPassword(strings.Repeat("x", 1024)))
	err = h.CheckPassword(strings.Repeat("x", 1025))
	require.ErrorAs(t, err, &perr)
	assert.Equal(t, "password must be at most 1024 bytes", err.Error())
}

func TestHasherPartialParamsTakeDefaults(t *testing.T) {
	t.Parallel()
	h := auth.NewHasher(auth.HasherOptions{Params: &argon2id.Params{Memory: 2048}})
	hash, err := h.Hash(context.Background(), "password1")
	require.NoError(t, err)
	p, _, _, err := argon2id.DecodeHash(hash)
	require.NoError(t, err)
	assert.Equal(t, argon2id.Params{Memory: 2048, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}, *p)
}

func TestHasherParamsCarriedInHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := newFastHasher(auth.HasherOptions{})
	stronger := auth.NewHasher(auth.HasherOptions{
		Params: &argon2id.Params{Memory: 2048, Iterations: 2, Parallelism: 2, SaltLength: 16, KeyLength: 32},
	})

	hash, err := old.Hash(ctx, "password1")
	require.NoError(t, err)

	// After the parameters rise, the old hash still verifies, and is due for a rehash.
	ok, err := stronger.Verify(ctx, "password1", hash)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.True(t, stronger.NeedsRehash(hash))
	assert.False(t, old.NeedsRehash(hash))

	rehashed, err := stronger.Hash(ctx, "password1")
	require.NoError(t, err)
	assert.False(t, stronger.NeedsRehash(rehashed))
	assert.Contains(t, rehashed, "$m=2048,t=2,p=2$")

	// A different key length is a different parameter set too.
	longKey := auth.NewHasher(auth.HasherOptions{Params: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 64}})
	assert.True(t, longKey.NeedsRehash(hash))

	assert.True(t, old.NeedsRehash(""))
	assert.True(t, old.NeedsRehash("not a hash"))
}

func TestHasherLengthRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newFastHasher(auth.HasherOptions{MinLength: 12, MaxLength: 64})

	cases := []struct {
		password string
		rule     string
		message  string
	}{
		{"", "min_length", "password must be at least 12 characters"},
		{"short", "min_length", "password must be at least 12 characters"},
		{"ééééééééééé", "min_length", "password must be at least 12 characters"}, // 22 bytes, 11 characters
		{strings.Repeat("x", 65), "max_length", "password must be at most 64 bytes"},
		{strings.Repeat("é", 33), "max_length", "password must be at most 64 bytes"}, // 33 characters, 66 bytes
		{"éééééééééééé", "", ""},
		{strings.Repeat("x", 64), "", ""},
	}
	for _, c := range cases {
		err := h.CheckPassword(c.password)
		if c.rule == "" {
			assert.NoError(t, err, "password %q", c.password)
			continue
		}
		var perr *auth.PasswordError
		require.ErrorAs(t, err, &perr, "password %q", c.password)
		assert.Equal(t, c.rule, perr.Rule)
		assert.Equal(t, c.message, err.Error())

		// Hash applies the same rules and returns the same error.
		_, err = h.Hash(ctx, c.password)
		require.ErrorAs(t, err, &perr)
		assert.Equal(t, c.message, err.Error())
	}
}

func TestHasherVerifyDoesNotApplyMinLength(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A password set under a laxer rule must still sign in after the rule tightens.
	lax := newFastHasher(auth.HasherOptions{MinLength: 4})
	hash, err := lax.Hash(ctx, "abcd")
	require.NoError(t, err)
	strict := newFastHasher(auth.HasherOptions{MinLength: 12})
	ok, err := strict.Verify(ctx, "abcd", hash)
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestHasherVerifyOverlongPassword(t *testing.T) {
	t.Parallel()
	h := newFastHasher(auth.HasherOptions{MaxLength: 16})
	hash, err := h.Hash(context.Background(), "password1")
	require.NoError(t, err)
	ok, err := h.Verify(context.Background(), strings.Repeat("x", 1<<20), hash)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.NoError(t, h.VerifyDummy(context.Background(), strings.Repeat("x", 1<<20)))
}

func TestHasherVerifyMalformedHash(t *testing.T) {
	t.Parallel()
	h := newFastHasher(auth.HasherOptions{})
	hashes := map[string]string{
		"empty":           "",
		"garbage":         "garbage",
		"bcrypt":          "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":         "$argon2i$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWtleXNvbWVrZXlzb21la2V5c29tZWtleQ",
		"old version":     "$argon2id$v=16$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWtleXNvbWVrZXlzb21la2V5c29tZWtleQ",
		"zero iterations": "$argon2id$v=19$m=1024,t=0,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWtleXNvbWVrZXlzb21la2V5c29tZWtleQ",
		"zero threads":    "$argon2id$v=19$m=1024,t=1,p=0$c29tZXNhbHRzb21lc2FsdA$c29tZWtleXNvbWVrZXlzb21la2V5c29tZWtleQ",
		"empty key":       "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$",
		"short key":       "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWtleQ",
		"empty salt":      "$argon2id$v=19$m=1024,t=1,p=1$$c29tZWtleXNvbWVrZXlzb21la2V5c29tZWtleQ",
		"huge memory":     "$argon2id$v=19$m=4000000000,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWtleXNvbWVrZXlzb21la2V5c29tZWtleQ",
		"huge iterations": "$argon2id$v=19$m=1024,t=4000000000,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWtleXNvbWVrZXlzb21la2V5c29tZWtleQ",
		"negative memory": "$argon2id$v=19$m=-1,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWtleXNvbWVrZXlzb21la2V5c29tZWtleQ",
		"bad base64":      "$argon2id$v=19$m=1024,t=1,p=1$!!!!$c29tZWtleXNvbWVrZXlzb21la2V5c29tZWtleQ",
		"extra field":     "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWtleQ$x",
	}
	// That a bad hash is refused before it can run is
	// TestHasherRefusesBadHashesWithoutASlot.
	for name, hash := range hashes {
		t.Run(name, func(t *testing.T) {
			ok, err := h.Verify(context.Background(), "password1", hash)
			assert.Error(t, err)
			assert.False(t, ok)
		})
	}
}

func TestHasherVerifyDummy(t *testing.T) {
	t.Parallel()
	h := newFastHasher(auth.HasherOptions{})
	assert.NoError(t, h.VerifyDummy(context.Background(), "password1"))
	assert.NoError(t, h.VerifyDummy(context.Background(), ""))
}

func TestHasherCancelledContext(t *testing.T) {
	t.Parallel()
	h := newFastHasher(auth.HasherOptions{})
	hash, err := h.Hash(context.Background(), "password1")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Even with free slots, a done context does no work.
	_, err = h.Hash(ctx, "password1")
	assert.ErrorIs(t, err, context.Canceled)
	ok, err := h.Verify(ctx, "password1", hash)
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, ok)
	assert.ErrorIs(t, h.VerifyDummy(ctx, "password1"), context.Canceled)
}

func TestHasherConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A queue for all 20, so that none is refused as busy: they share one key
	// (no HashClaim), which by default holds only a quarter of the queue, and
	// MaxWait never passes (a loaded machine may take longer than its default).
	never := func(time.Duration) <-chan time.Time { return nil }
	h := newFastHasher(auth.HasherOptions{MaxConcurrent: 2, MaxQueue: 20, MaxQueuePerKey: 20, After: never})
	hash, err := h.Hash(ctx, "password1")
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			want := i%2 == 0
			password := "password1"
			if !want {
				password = "password2"
			}
			ok, err := h.Verify(ctx, password, hash)
			if err == nil && ok != want {
				err = errors.New("wrong answer for " + password)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

// BenchmarkHasherBound verifies from one goroutine per core at once
// (b.RunParallel) through a Hasher with MaxConcurrent 1, beside the
// baseline of one slot per core, in one run. On two or more cores the
// bounded ns/op is about the baseline's times the number of cores: the
// bound keeps the runs from overlapping. The deterministic check of the
// bound is TestHasherBoundHolds.
func BenchmarkHasherBound(b *testing.B) {
	cores := runtime.GOMAXPROCS(0)
	for _, slots := range []int{cores, 1} {
		b.Run(fmt.Sprintf("max-concurrent-%d", slots), func(b *testing.B) {
			ctx := context.Background()
			h := auth.NewHasher(auth.HasherOptions{
				Params:        &argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
				MaxConcurrent: slots,
				MaxQueue:      4 * cores,
				MaxWait:       time.Hour, // every run must get its turn, however slow the machine
			})
			hash, err := h.Hash(ctx, "password1")
			require.NoError(b, err)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := h.Verify(ctx, "password1", hash); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func TestGeneratePassword(t *testing.T) {
	t.Parallel()
	h := auth.NewHasher(auth.HasherOptions{})
	seen := make(map[string]bool)
	for range 100 {
		p := auth.GeneratePassword()
		assert.Len(t, p, 20)
		assert.NotContains(t, p, "=")
		assert.NotContains(t, p, "+")
		assert.NotContains(t, p, "/")
		assert.NoError(t, h.CheckPassword(p))
		assert.False(t, seen[p])
		seen[p] = true
	}
}
