package rpc

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/authrpc/authrpc/auth"
)

// activeCalls counts a method's calls in flight, in all and per caller, and
// refuses one past the method's bounds. The hub counts its sockets with one,
// per client address.
type activeCalls struct {
	limit, userLimit int
	total            atomic.Int64

	mu     sync.Mutex
	byUser map[string]int // only with a userLimit
}

func newActiveCalls(limit, userLimit int) *activeCalls {
	a := &activeCalls{limit: limit, userLimit: userLimit}
	if userLimit > 0 {
		a.byUser = make(map[string]int)
	}
	return a
}

// enter counts a call of key in, or reports that a bound is reached.
func (a *activeCalls) enter(key string) bool {
	ok, _ := a.admit(key)
	return ok
}

// admit counts one of key in, or reports which bound is reached: key's own
// (perKey) or the total.
func (a *activeCalls) admit(key string) (ok, perKey bool) {
	if n := a.total.Add(1); a.limit > 0 && n > int64(a.limit) {
		a.total.Add(-1)
		return false, false
	}
	if a.userLimit == 0 {
		return true, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byUser[key] >= a.userLimit {
		a.total.Add(-1)
		return false, true
	}
	a.byUser[key]++
	return true, false
}

// leave counts a call of key out.
func (a *activeCalls) leave(key string) {
	a.total.Add(-1)
	if a.userLimit == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byUser[key]--; a.byUser[key] <= 0 {
		delete(a.byUser, key) // the map holds only callers with calls in flight
	}
}

// ActiveCalls is a method's bounds on calls in flight and how many are in
// flight now on this registry.
type ActiveCalls struct {
	Limit     int   // MaxActive; 0 for none
	UserLimit int   // MaxActivePerUser; 0 for none
	Total     int64 // calls of the method in flight now
}

// Active returns the live count of a method's calls in flight, and its
// bounds; ok is false for an unknown method.
func (r *Registry) Active(methodID string) (ActiveCalls, bool) {
	m := r.lookup(methodID)
	if m == nil {
		return ActiveCalls{}, false
	}
	return ActiveCalls{Limit: m.MaxActive, UserLimit: m.MaxActivePerUser, Total: m.active.total.Load()}, true
}

func rateKey(p *auth.Principal, addr string) string {
	if p.Authenticated() {
		return "u:" + strconv.FormatInt(p.UserID, 10)
	}
	return "a:" + auth.AddrKey(addr) // an IPv6 guest keys on its /64
}
