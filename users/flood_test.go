package users_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/users"
)

// signinFlood is the attack on the hashing queue: clients that send wrong
// passwords from many addresses, each within that address's sign-in
// budget, as fast as they are answered. A client refused because the
// queue is full waits for the next round (see release) rather than
// spinning: it would only spend its addresses' budgets, and the clients
// whose guesses are hashed keep the queue full meanwhile.
type signinFlood struct {
	e     *env
	addrs []string
	next  atomic.Int64 // the next address, round robin
	spent sync.Map     // addresses whose budget is spent

	mu    sync.Mutex
	round chan struct{} // closed to start the next round
	busy  chan struct{} // signalled when a client finds the queue full
	stop  chan struct{}
	wg    sync.WaitGroup
}

func startFlood(t *testing.T, e *env, clients int, addrs []string) *signinFlood {
	f := &signinFlood{e: e, addrs: addrs, round: make(chan struct{}), busy: make(chan struct{}, 1), stop: make(chan struct{})}
	var guess atomic.Int64
	for range clients {
		f.wg.Go(func() {
			for {
				select {
				case <-f.stop:
					return
				default:
				}
				addr, ok := f.address()
				if !ok {
					return // every budget spent
				}
				// A name of no one's, new each time: no name's own budget runs out.
				a := signinFrom(t, e, addr, fmt.Sprintf("guess-%d", guess.Add(1)), "wrong-password")
				switch {
				case a.Code == 401:
				case a.Code == 429 && strings.Contains(a.Message, "at once"):
					select {
					case f.busy <- struct{}{}:
					default:
					}
					f.mu.Lock()
					round := f.round
					f.mu.Unlock()
					select {
					case <-round:
					case <-f.stop:
						return
					}
				case a.Code == 429:
					f.spent.Store(addr, true)
				default:
					t.Errorf("flood: %s", a.Raw)
					return
				}
			}
		})
	}
	t.Cleanup(f.end)
	return f
}

// address returns the next address whose budget is not spent.
func (f *signinFlood) address() (string, bool) {
	for range len(f.addrs) {
		addr := f.addrs[int(f.next.Add(1))%len(f.addrs)]
		if _, spent := f.spent.Load(addr); !spent {
			return addr, true
		}
	}
	return "", false
}

// release starts a round: the clients that found the queue full try again,
// and it returns once one of them finds it full again.
func (f *signinFlood) release(t *testing.T) {
	t.Helper()
	select {
	case <-f.busy: // an earlier round's
	default:
	}
	f.mu.Lock()
	close(f.round)
	f.round = make(chan struct{})
	f.mu.Unlock()
	select {
	case <-f.busy:
	case <-time.After(time.Minute): // a guard, not a measurement
		t.Fatal("the flood no longer fills the hashing queue")
	}
}

func (f *signinFlood) end() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.wg.Wait()
}

// The attack: 48 clients from 200 addresses, each address within its
// sign-in budget, send wrong passwords and keep the hashing queue full.
// Meanwhile real users sign in with the right password, each time just as
// a client found the queue full: ann 9 times from the address she signed
// in from before, bob 9 times from addresses he never used. Each must get
// in at least 8 times in 9. (Before the queue was fair: 0 of 9 for both.)
//
// The hasher is cheap and slow to give up (MaxWait a minute), so the
// outcome depends on who gets a place in the queue, not on the machine's
// speed.
func TestSigninFloodFromManyAddresses(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		addrs := make([]string, 200)
		for i := range addrs {
			addrs[i] = fmt.Sprintf("198.51.100.%d", i)
		}
		signinsUnderFlood(t, e, addrs, true)
	}, floodOptions)
}

// The same flood from 4,000 IPv6 /64s that have not tried before, so none
// of them tries often enough to wait behind: ann, from the address she
// signed in from before, still gets in 8 times in 9 or more. bob, from new
// addresses, competes with the flood on equal terms; his figure is logged.
func TestSigninFloodFromFreshAddresses(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		addrs := make([]string, 4000)
		for i := range addrs {
			addrs[i] = fmt.Sprintf("2001:db8:%x:%x::1", i/256, i%256)
		}
		signinsUnderFlood(t, e, addrs, false)
	}, floodOptions)
}

// floodOptions: a hasher cheap enough for the test's thousands of hashes
// yet dearer than the rest of a sign-in, as the real one is (much
// cheaper, and the flood would no longer fill the queue); one slot; and a
// wait that never ends the test's sign-ins, so that the queue's order
// decides them, not the machine's speed.
func floodOptions(o *users.Options) {
	o.Hasher = auth.NewHasher(auth.HasherOptions{Params: fastParams, MaxConcurrent: 1, MaxQueue: 8, MaxWait: time.Minute})
	o.LocalLimits = true // the budgets as they are, without a database round trip each
}

// signinsUnderFlood floods sign-in from addrs (which first try 10 times
// each when tried) and has ann and bob sign in 9 times each meanwhile.
// ann must get in 8 times or more; so must bob when the flood's addresses
// had tried before.
func signinsUnderFlood(t *testing.T, e *env, addrs []string, tried bool) {
	root := e.root(t)
	e.create(t, root, "ann", "ann-password", nil)
	e.create(t, root, "bob", "bob-password", nil)
	require.Equal(t, 200, signinFrom(t, e, "203.0.113.7", "ann", "ann-password").Code, "ann's usual address")
	if tried {
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for j := w; j < len(addrs); j += 8 {
					for i := range 10 {
						assert.Equal(t, 401, signinFrom(t, e, addrs[j], fmt.Sprintf("warm-%d", i), "wrong-password").Code)
					}
				}
			})
		}
		wg.Wait()
		require.False(t, t.Failed())
	}
	flood := startFlood(t, e, 48, addrs)

	got := map[string]int{}
	for i := range 9 {
		flood.release(t)
		if a := signinFrom(t, e, "203.0.113.7", "ann", "ann-password"); a.Code == 200 {
			got["ann"]++
		} else {
			t.Logf("ann, sign-in %d: %s", i+1, a.Raw)
		}
		flood.release(t)
		if a := signinFrom(t, e, fmt.Sprintf("203.0.113.%d", 100+i), "bob", "bob-password"); a.Code == 200 {
			got["bob"]++
		} else {
			t.Logf("bob, sign-in %d: %s", i+1, a.Raw)
		}
	}
	flood.end()
	t.Logf("signed in under the flood, of 9: ann (her usual address) %d, bob (new addresses) %d; the flood made %d attempts",
		got["ann"], got["bob"], flood.next.Load())
	assert.GreaterOrEqual(t, got["ann"], 8, "ann, from her usual address")
	if tried {
		assert.GreaterOrEqual(t, got["bob"], 8, "bob, from addresses he never used")
	}
}

// A user's sign-in addresses are kept newest first, by address key (an
// IPv6 address by its /64), at most 8; failed sign-ins add none.
func TestSigninAddressesRemembered(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		e.create(t, e.root(t), "ann", "ann-password", nil)
		addrs := func() []string {
			var raw string
			require.NoError(t, e.db.NewSelect().Table("users").Column("signin_addrs").Where("name = 'ann'").Scan(context.Background(), &raw))
			var list []string
			require.NoError(t, json.Unmarshal([]byte(raw), &list), raw)
			return list
		}
		assert.Empty(t, addrs())
		require.Equal(t, 401, signinFrom(t, e, "198.51.100.1", "ann", "wrong-password").Code)
		assert.Empty(t, addrs())

		for i := range 10 {
			require.Equal(t, 200, signinFrom(t, e, fmt.Sprintf("2001:db8:%d::7", i), "ann", "ann-password").Code)
		}
		require.Equal(t, 200, signinFrom(t, e, "2001:db8:5::8", "ann", "ann-password").Code)
		assert.Equal(t, []string{"2001:db8:5::/64", "2001:db8:9::/64", "2001:db8:8::/64", "2001:db8:7::/64",
			"2001:db8:6::/64", "2001:db8:4::/64", "2001:db8:3::/64", "2001:db8:2::/64"}, addrs())
	}, func(o *users.Options) { o.LocalLimits = true })
}
