package users_test

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

func signinFrom(t *testing.T, e *env, addr, name, password string) *rpctest.Answer {
	t.Helper()
	return e.c.From(addr).Post(t, "/v1/session/signin", fmt.Sprintf(`[{"username":%q,"password":%q}]`, name, password))
}

// One address guessing at one name is stopped hard; others are not.
func TestSigninLimitPerNameAddr(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		e.create(t, e.root(t), "ann", "ann-password", nil)
		for range 3 {
			a := signinFrom(t, e, "198.51.100.1", "ANN", "wrong-password")
			require.Equal(t, 401, a.Code, a.Raw)
		}
		a := signinFrom(t, e, "198.51.100.1", "ann", "ann-password")
		assert.Equal(t, 429, a.Code, a.Raw)
		assert.Equal(t, 429, a.HTTP)
		assert.Equal(t, "10", a.Header.Get("Retry-After"))
		assert.Contains(t, a.Message, "this user name from your address")
		// The same holds for names nobody has: no hint of who exists.
		for range 3 {
			signinFrom(t, e, "198.51.100.1", "nobody", "wrong-password")
		}
		assert.Equal(t, 429, signinFrom(t, e, "198.51.100.1", "nobody", "x").Code)

		assert.Equal(t, 200, signinFrom(t, e, "198.51.100.2", "ann", "ann-password").Code, "from another address")
		assert.Equal(t, 200, signinFrom(t, e, "198.51.100.1", "root", rootPassword).Code, "another name")
		e.clock.Add(10 * time.Second)
		assert.Equal(t, 200, signinFrom(t, e, "198.51.100.1", "ann", "ann-password").Code, "the bucket refills")
	}, func(o *users.Options) {
		o.SigninLimitPerNameAddr = rpc.RateLimit{Burst: 3, PerSecond: 0.1}
		o.SigninLimitPerAddr.Burst = -1
	})
}

func TestSigninSuccessRefillsThePair(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		e.create(t, e.root(t), "ann", "ann-password", nil)
		signinFrom(t, e, "198.51.100.1", "ann", "wrong-password")
		signinFrom(t, e, "198.51.100.1", "ann", "wrong-password")
		require.Equal(t, 200, signinFrom(t, e, "198.51.100.1", "ann", "ann-password").Code)
		for range 3 {
			require.Equal(t, 401, signinFrom(t, e, "198.51.100.1", "ann", "wrong-password").Code)
		}
		assert.Equal(t, 429, signinFrom(t, e, "198.51.100.1", "ann", "wrong-password").Code)
	}, func(o *users.Options) {
		o.SigninLimitPerNameAddr = rpc.RateLimit{Burst: 3, PerSecond: 0.001}
		o.SigninLimitPerAddr.Burst = -1
	})
}

// The attack of issue 11 (5a): wrong tries at a name from elsewhere used to
// lock its owner out (12 made the right password from a fresh address
// answer 429, and one every 6 s kept the lock). With the default limits,
// the owner signs in from an address that has not been failing, however
// the name is hammered.
func TestSigninHammeredNameDoesNotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		e.create(t, e.root(t), "ann", "ann-password", nil)
		codes := map[int]int{}
		// 20 wrong tries from 4 addresses, then 20 from 20 more.
		for i := range 20 {
			codes[signinFrom(t, e, fmt.Sprintf("198.51.100.%d", i%4), "ann", "wrong-password").Code]++
		}
		for i := range 20 {
			codes[signinFrom(t, e, fmt.Sprintf("203.0.113.%d", i), "ann", "wrong-password").Code]++
		}
		t.Logf("answers to 40 wrong tries: %v", codes)
		a := signinFrom(t, e, "192.0.2.200", "ann", "ann-password")
		assert.Equal(t, 200, a.Code, a.Raw)

		// One try every 6 s from ever new addresses keeps the name under
		// attack; the owner still gets in from a fresh address.
		for i := range 10 {
			e.clock.Add(6 * time.Second)
			signinFrom(t, e, fmt.Sprintf("198.18.0.%d", i), "ann", "wrong-password")
		}
		assert.Equal(t, 200, signinFrom(t, e, "192.0.2.201", "ann", "ann-password").Code)
	})
}

// Distributed guessing is still slowed: once the name's budget is spent,
// each address gets only SigninLimitUnderAttack at that name.
func TestSigninNameUnderAttack(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		e.create(t, e.root(t), "ann", "ann-password", nil)
		for i := range 4 { // the name's budget, from four addresses
			require.Equal(t, 401, signinFrom(t, e, fmt.Sprintf("198.51.100.%d", i), "ann", "wrong-password").Code)
		}
		// Now under attack: each address, old or new, gets 2 more tries.
		for _, addr := range []string{"198.51.100.0", "203.0.113.1"} {
			for range 2 {
				require.Equal(t, 401, signinFrom(t, e, addr, "ann", "wrong-password").Code, addr)
			}
			a := signinFrom(t, e, addr, "ann", "ann-password")
			assert.Equal(t, 429, a.Code, a.Raw)
			assert.Contains(t, a.Message, "for this user name")
			assert.Equal(t, "1800", a.Header.Get("Retry-After"))
		}
		assert.Equal(t, 200, signinFrom(t, e, "203.0.113.2", "root", rootPassword).Code, "other names are not under attack")
		assert.Equal(t, 200, signinFrom(t, e, "203.0.113.3", "ann", "ann-password").Code, "a fresh address gets in")
		e.clock.Add(time.Hour)
		assert.Equal(t, 200, signinFrom(t, e, "198.51.100.0", "ann", "ann-password").Code, "the buckets refill")
	}, func(o *users.Options) {
		o.SigninLimitPerName = rpc.RateLimit{Burst: 4, PerSecond: 0.001}
		o.SigninLimitPerNameAddr.Burst = -1
		o.SigninLimitPerAddr.Burst = -1
	})
}

func TestSigninLimitPerAddress(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		root := e.root(t)
		e.create(t, root, "ann", "ann-password", nil)
		e.create(t, root, "bob", "bob-password", nil)
		for i := range 3 {
			a := signinFrom(t, e, "203.0.113.5", fmt.Sprintf("guess%d", i), "wrong-password")
			require.Equal(t, 401, a.Code, a.Raw)
		}
		a := signinFrom(t, e, "203.0.113.5", "ann", "ann-password")
		assert.Equal(t, 429, a.Code, a.Raw)
		assert.Contains(t, a.Message, "address")
		// Another user from another address is not locked out.
		assert.Equal(t, 200, signinFrom(t, e, "203.0.113.6", "bob", "bob-password").Code)
		e.clock.Add(11 * time.Second)
		assert.Equal(t, 200, signinFrom(t, e, "203.0.113.5", "ann", "ann-password").Code)
	}, func(o *users.Options) {
		o.SigninLimitPerAddr = rpc.RateLimit{Burst: 3, PerSecond: 0.1}
		o.SigninLimitPerName.Burst = -1
	})
}

// The client address comes from the connection unless the host names a
// trusted proxy header; a client cannot dodge the limit by sending one.
func TestSigninLimitUsesTheTrustedAddress(t *testing.T) {
	t.Parallel()
	limits := func(o *users.Options) {
		o.SigninLimitPerAddr = rpc.RateLimit{Burst: 2, PerSecond: 0.001}
		o.SigninLimitPerName.Burst = -1
	}
	attempt := func(t *testing.T, e *env, forwarded string) int {
		return e.c.From("203.0.113.5").With("X-Forwarded-For", forwarded).
			Post(t, "/v1/session/signin", `[{"username":"nobody","password":"wrong-password"}]`).Code
	}
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		t.Run("untrusted", func(t *testing.T) {
			e := newEnv(t, db, limits)
			assert.Equal(t, 401, attempt(t, e, "192.0.2.1"))
			assert.Equal(t, 401, attempt(t, e, "192.0.2.2"))
			assert.Equal(t, 429, attempt(t, e, "192.0.2.3"), "a header the host does not trust changes nothing")
		})
		t.Run("trusted", func(t *testing.T) {
			e := newEnvRPC(t, db, func(o *rpc.Options) {
				o.TrustedProxyHeader = "X-Forwarded-For"
				o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("203.0.113.5/32")}
			}, limits)
			assert.Equal(t, 401, attempt(t, e, "192.0.2.1"))
			assert.Equal(t, 401, attempt(t, e, "192.0.2.1"))
			assert.Equal(t, 429, attempt(t, e, "192.0.2.1"))
			assert.Equal(t, 401, attempt(t, e, "192.0.2.2"), "each client behind the proxy has its own bucket")
		})
		t.Run("a direct peer", func(t *testing.T) {
			// The header is named, but 203.0.113.5 is not a proxy: rotating
			// the header used to give it a fresh bucket each time.
			e := newEnvRPC(t, db, func(o *rpc.Options) {
				o.TrustedProxyHeader = "X-Forwarded-For"
				o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
			}, limits)
			direct := func(forwarded string) int {
				return e.c.From("203.0.113.6").With("X-Forwarded-For", forwarded).
					Post(t, "/v1/session/signin", `[{"username":"nobody","password":"wrong-password"}]`).Code
			}
			assert.Equal(t, 401, direct("198.51.100.1"))
			assert.Equal(t, 401, direct("198.51.100.2"))
			assert.Equal(t, 429, direct("198.51.100.3"), "a header from a peer that is not a proxy changes nothing")
		})
	})
}

// The default limits at work: 200 parallel wrong sign-ins for one user from
// one address. Most are turned away with 429 before any hashing, so
// another user from another address, signing in meanwhile, waits behind
// at most a burst of hashes: the bound is the count of 401s, not a clock.
func TestSigninFloodDoesNotLockOthersOut(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		root := e.root(t)
		e.create(t, root, "ann", "ann-password", nil)
		e.create(t, root, "bob", "bob-password", nil)

		var wg sync.WaitGroup
		codes := make(chan int, 200)
		for range 200 {
			wg.Go(func() {
				codes <- signinFrom(t, e, "203.0.113.66", "ann", "wrong-password").Code
			})
		}
		a := signinFrom(t, e, "203.0.113.7", "bob", "bob-password")
		wg.Wait()
		close(codes)
		assert.Equal(t, 200, a.Code, a.Raw)

		count := map[int]int{}
		for c := range codes {
			count[c]++
		}
		t.Logf("answers to the flood: %v", count)
		assert.Equal(t, 200, count[401]+count[429])
		assert.LessOrEqual(t, count[401], users.DefaultSigninLimitPerName.Burst, "only a burst reaches the hasher")
	})
}
