package rpc

import (
	"context"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/authrpc/authrpc/auth"
)

// hub holds the open sockets of a registry, by group, so that events find
// their sockets and revocations close them.
type hub struct {
	r        *Registry
	reserved *activeCalls // sockets open or being opened, in all and per client address

	mu     sync.RWMutex
	all    map[*socket]struct{}
	groups map[string]map[*socket]struct{}

	// gen counts revocations, so that a socket whose caller is revoked
	// while it opens is not missed (see open).
	gen atomic.Uint64

	events eventShare
	pings  atomic.Uint64 // spreads the sockets' first pings (firstPing)
}

func newHub(r *Registry) *hub {
	return &hub{
		r:        r,
		reserved: newActiveCalls(r.opts.WebSocket.MaxSockets, r.opts.WebSocket.MaxSocketsPerAddr),
		all:      make(map[*socket]struct{}),
		groups:   make(map[string]map[*socket]struct{}),
		events:   eventShare{origin: newOrigin()},
	}
}

// reserve counts a socket about to open from a client address (its
// auth.AddrKey), refusing one past MaxSockets or MaxSocketsPerAddr.
func (h *hub) reserve(addrKey string) (ok, perAddr bool) { return h.reserved.admit(addrKey) }

func (h *hub) unreserve(addrKey string) { h.reserved.leave(addrKey) }

// Sockets returns the number of WebSockets open.
func (r *Registry) Sockets() int {
	r.hub.mu.RLock()
	defer r.hub.mu.RUnlock()
	return len(r.hub.all)
}

// open authenticates a socket's token and adds the socket to the groups of
// its caller. A revocation between the two authenticates it again.
func (h *hub) open(ctx context.Context, s *socket) {
	for range 3 {
		gen := h.gen.Load()
		_, p, err := h.r.caller(ctx, s.token)
		if err != nil {
			// Calls authenticate the token again; only the groups are a guest's.
			h.r.log.WarnContext(ctx, "rpc: websocket: authenticate", "err", err)
		}
		s.principal = p
		s.groups = h.r.groupsOf(p)
		h.mu.Lock()
		if h.gen.Load() == gen {
			h.add(s)
			h.mu.Unlock()
			break
		}
		h.mu.Unlock()
	}
	if !h.has(s) {
		// Revoked again and again while opening: join as the last answer
		// says, and close if that was someone.
		h.mu.Lock()
		h.add(s)
		h.mu.Unlock()
		if s.principal != nil {
			s.close(CloseSignedOut, "Signed out")
		}
	}
	if p := s.principal; p != nil && !p.ExpiresAt.IsZero() {
		// A session that runs out closes its sockets, as a revocation would.
		s.expiry = h.r.clock.AfterFunc(p.ExpiresAt.Sub(h.r.clock.Now()), func() { s.close(CloseSignedOut, "Signed out") })
	}
}

func (h *hub) has(s *socket) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	_, ok := h.all[s]
	return ok
}

// add adds s to the hub; h.mu is held.
func (h *hub) add(s *socket) {
	h.all[s] = struct{}{}
	for _, g := range s.groups {
		set := h.groups[g]
		if set == nil {
			set = make(map[*socket]struct{})
			h.groups[g] = set
		}
		set[s] = struct{}{}
	}
}

func (h *hub) remove(s *socket) {
	if s.expiry != nil {
		s.expiry.Stop()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.all, s)
	for _, g := range s.groups {
		if set := h.groups[g]; set != nil {
			delete(set, s)
			if len(set) == 0 {
				delete(h.groups, g)
			}
		}
	}
}

// revoke closes the sockets of the callers an invalidation covers, unless
// it is a refresh: their credentials stay valid. It runs on every
// instance, for its own invalidations and those of the others.
func (h *hub) revoke(inv auth.Invalidation) {
	if inv.Refresh {
		return
	}
	h.gen.Add(1)
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.all {
		if inv.Matches(s.principal) {
			s.close(CloseSignedOut, "Signed out")
		}
	}
}

// recheckTimeout bounds each authentication of recheck.
const recheckTimeout = 5 * time.Second

// recheck authenticates the token of every signed-in socket again, after
// the auth cache may have missed invalidations (auth.Mux.OnResync), and
// closes with 4000 those whose caller is no longer the one they opened as.
// A token that cannot be checked now (the database is away) is left to the
// next resync, as each call authenticates again anyway.
func (h *hub) recheck() {
	h.mu.RLock()
	var list []*socket
	for s := range h.all {
		if s.principal != nil {
			list = append(list, s)
		}
	}
	h.mu.RUnlock()
	for _, s := range list {
		ctx, cancel := context.WithTimeout(s.ctx, recheckTimeout)
		_, p, err := h.r.caller(ctx, s.token)
		cancel()
		if err != nil {
			continue
		}
		if !samePrincipal(s.principal, p) {
			s.close(CloseSignedOut, "Signed out")
		}
	}
}

func samePrincipal(a, b *auth.Principal) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UserID == b.UserID && a.Username == b.Username && a.Kind == b.Kind &&
		a.TokenID == b.TokenID && maps.Equal(a.Permissions, b.Permissions)
}

// closeAll closes every socket with code and reason.
func (h *hub) closeAll(code websocket.StatusCode, reason string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.all {
		s.close(code, reason)
	}
}

// Groups a socket belongs to, besides the id of its user (UserGroup) and
// each permission it holds.
const (
	GroupAll   = auth.Anyone // every socket
	GroupUser  = auth.User   // signed-in callers
	GroupGuest = auth.Guest  // callers who are not signed in
	GroupRoot  = auth.Root   // the root user
)

// UserGroup returns the group of the sockets of one user: its id.
func UserGroup(userID int64) string { return strconv.FormatInt(userID, 10) }

// groupsOf lists the groups of a caller.
func (r *Registry) groupsOf(p *auth.Principal) []string {
	groups := []string{GroupAll}
	if !p.Authenticated() {
		return append(groups, GroupGuest)
	}
	groups = append(groups, UserGroup(p.UserID), GroupUser)
	if p.Allowed([]string{auth.Root}) {
		groups = append(groups, GroupRoot)
	}
	for _, perm := range r.perms.List() {
		if p.Has(perm.Name) {
			groups = append(groups, perm.Name)
		}
	}
	return groups
}
