package users_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/mailer/mailertest"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage/storagetest"
	"github.com/authrpc/authrpc/users"
)

// twoInstances mounts the module twice on one database, as two instances
// of a service do.
func twoInstances(t *testing.T, db *bun.DB, tweak ...func(*users.Options)) [2]*env {
	t.Helper()
	return [2]*env{newEnv(t, db, tweak...), newEnv(t, db, tweak...)}
}

// Alternating two instances does not double the guesses (issue 11, 5b): the
// counters are in the database. With LocalLimits each instance counts
// alone, which is the defect this guards against.
func TestSigninLimitsSharedByInstances(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		count := func(t *testing.T, in [2]*env, name string) map[int]int {
			codes := map[int]int{}
			for i := range 20 {
				codes[signinFrom(t, in[i%2], "198.51.100.7", name, "wrong-password").Code]++
			}
			return codes
		}
		shared := twoInstances(t, db)
		shared[0].create(t, shared[0].root(t), "ann", "ann-password", nil)
		codes := count(t, shared, "ann")
		assert.Equal(t, users.DefaultSigninLimitPerNameAddr.Burst, codes[401], "shared: %v", codes)

		local := twoInstances(t, db, func(o *users.Options) { o.LocalLimits = true })
		codes = count(t, local, "ann")
		assert.Equal(t, 2*users.DefaultSigninLimitPerNameAddr.Burst, codes[401], "local: %v", codes)
	})
}

func TestSignupLimitSharedByInstances(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		in := twoInstances(t, db, openSignup, func(o *users.Options) { o.SignupLimit = rpc.RateLimit{Burst: 2, PerSecond: 0.001} })
		codes := map[int]int{}
		for i := range 6 {
			a := in[i%2].c.From("198.51.100.7").Call(t, "/v1/session/signup", map[string]any{"username": fmt.Sprintf("user%c", 'a'+i)})
			codes[a.Code]++
			if a.Code == 429 {
				assert.NotEmpty(t, a.Header.Get("Retry-After"))
			}
		}
		assert.Equal(t, map[int]int{200: 2, 429: 4}, codes)
	})
}

func TestMailLimitsSharedByInstances(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		srv := mailertest.NewServer(t, mailertest.Options{Username: smtpUser, Password: smtpPassword})
		in := twoInstances(t, db, withMail(srv), func(o *users.Options) {
			o.EmailLimitPerAddr = rpc.RateLimit{Burst: 3, PerSecond: 0.001}
			o.EmailLimitPerUser = rpc.RateLimit{Burst: 2, PerSecond: 0.001}
		})
		codes := map[int]int{}
		for i := range 6 { // one address, ever new names
			codes[in[i%2].c.From("198.51.100.7").Call(t, sendReset, fmt.Sprintf("who%d", i)).Code]++
		}
		assert.Equal(t, map[int]int{200: 3, 429: 3}, codes, "per address")
		codes = map[int]int{}
		for i := range 6 { // one name, ever new addresses
			codes[in[i%2].c.From(fmt.Sprintf("203.0.113.%d", i)).Call(t, sendReset, "carol").Code]++
		}
		assert.Equal(t, map[int]int{200: 2, 429: 4}, codes, "per user")
	})
}

// With a trusted proxy, the limits key on the entry the proxy appended,
// whatever lines the client sent before it (issue 11, 5c): changing its
// own X-Forwarded-For line used to give a client a fresh bucket each time.
func TestSigninLimitKeysOnTheProxysEntry(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnvRPC(t, db, func(o *rpc.Options) {
			o.TrustedProxyHeader = "X-Forwarded-For"
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")}
		}, func(o *users.Options) {
			o.SigninLimitPerAddr = rpc.RateLimit{Burst: 3, PerSecond: 0.001}
		})
		codes := map[int]int{}
		for i := range 6 {
			req := httptest.NewRequest(http.MethodPost, "/v1/session/signin",
				strings.NewReader(fmt.Sprintf(`[{"username":"guess%d","password":"wrong-password"}]`, i)))
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = "10.0.0.1:4711"                                // the proxy
			req.Header.Add("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i)) // the client's own line
			req.Header.Add("X-Forwarded-For", "203.0.113.5")                // the proxy's
			codes[e.c.Do(t, req).Code]++
		}
		assert.Equal(t, map[int]int{401: 3, 429: 3}, codes)
	})
}

// An IPv6 client has a whole /64 to pick addresses from; they share one
// bucket (issue 11, 5e). Another /64 has its own.
func TestSigninLimitKeysIPv6OnThe64(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		codes := map[int]int{}
		for i := range 6 {
			addr := fmt.Sprintf("[2001:db8:1:2::%x]:4711", i+1)
			codes[signinFrom(t, e, addr, fmt.Sprintf("guess%d", i), "wrong-password").Code]++
		}
		assert.Equal(t, map[int]int{401: 3, 429: 3}, codes)
		assert.Equal(t, 401, signinFrom(t, e, "[2001:db8:1:3::1]:4711", "guess", "wrong-password").Code)
	}, func(o *users.Options) { o.SigninLimitPerAddr = rpc.RateLimit{Burst: 3, PerSecond: 0.001} })
}

// A flood of wrong sign-ins that the rate limits let through (from many
// addresses, say) used to queue without bound for the hashing slots: 45 a
// second delayed a real sign-in by 3.6 s (issue 11, 5d). Now the queue is
// bounded: past its places the flood gets 429 with Retry-After at once,
// so a real sign-in waits behind at most MaxQueue hashes, or is told to
// come back. The bound is read on the queue (Hasher.Stats), not on the
// clock; the flood's clients, refused, wait for the next round (see
// signinFlood) rather than spin.
func TestSigninFloodCannotDelayARealOne(t *testing.T) {
	t.Parallel()
	const maxQueue = 4
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		// MaxWait is a guard: the queue's bound decides, not the machine.
		hasher := auth.NewHasher(auth.HasherOptions{Params: fastParams, MaxConcurrent: 1, MaxQueue: maxQueue, MaxWait: time.Minute})
		e := newEnv(t, db, func(o *users.Options) {
			o.Hasher = hasher
			o.LocalLimits = true
			o.SigninLimitPerNameAddr.Burst = -1
			o.SigninLimitPerAddr.Burst = -1
			o.SigninLimitPerName.Burst = -1
		})
		e.create(t, e.root(t), "ann", "ann-password", nil)
		addrs := make([]string, 64)
		for i := range addrs {
			addrs[i] = fmt.Sprintf("198.51.100.%d", i)
		}
		flood := startFlood(t, e, 64, addrs)

		real := map[int]int{}
		for range 5 {
			flood.release(t) // the queue is full: a client was just refused
			waiting := hasher.Stats().Waiting
			assert.LessOrEqual(t, waiting, maxQueue, "waiting for the hasher")
			a := signinFrom(t, e, "192.0.2.10", "ann", "ann-password")
			real[a.Code]++
			if a.Code == 429 {
				assert.Equal(t, "1", a.Header.Get("Retry-After"), a.Raw)
			}
		}
		flood.end()
		t.Logf("real sign-ins under the flood: %v; the flood made %d attempts", real, flood.next.Load())
		assert.Equal(t, 5, real[200]+real[429], "answered, or told to come back")
	})
}
