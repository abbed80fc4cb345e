package users

import (
	"context"
	"sync"
)

// UserFunc is a hook: it runs after the change it is named for committed,
// on the call's goroutine, with the call's context. It cannot undo the
// change; refuse calls with rpc call middleware instead.
type UserFunc func(ctx context.Context, u *User)

// userHooks are the UserFuncs the host added.
type userHooks struct {
	mu                       sync.Mutex
	signup, signin, deletion []UserFunc
}

// OnSignup adds fn to what runs after SignUp (/v1/session/signup) created
// a user (users created by Create or /v1/admin/users/create are not
// sign-ups).
func (m *Module) OnSignup(fn UserFunc) { m.hooks.add(&m.hooks.signup, fn) }

// OnSignin adds fn to what runs after SignIn (/v1/session/signin) opened a
// session.
func (m *Module) OnSignin(fn UserFunc) { m.hooks.add(&m.hooks.signin, fn) }

// OnDelete adds fn to what runs after a user was deleted, through the API
// or Delete; u is the user as it was.
func (m *Module) OnDelete(fn UserFunc) { m.hooks.add(&m.hooks.deletion, fn) }

func (h *userHooks) add(list *[]UserFunc, fn UserFunc) {
	h.mu.Lock()
	*list = append(*list, fn)
	h.mu.Unlock()
}

func (h *userHooks) run(ctx context.Context, list *[]UserFunc, row *userRow) {
	h.mu.Lock()
	fns := *list
	h.mu.Unlock()
	for _, fn := range fns {
		fn(ctx, row.user())
	}
}

// funcList is a list of hooks that other modules add while mounting and
// calls read: each call runs those added before it began.
type funcList[F any] struct {
	mu  sync.Mutex
	fns []F
}

func (l *funcList[F]) add(fn F) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fns = append(l.fns, fn)
}

// all returns the hooks added so far. Adding appends, so the slice
// returned is never written again.
func (l *funcList[F]) all() []F {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fns[:len(l.fns):len(l.fns)]
}
