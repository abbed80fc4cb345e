package rpc

import (
	"time"

	"github.com/authrpc/authrpc/auth"
)

// OnActivity adds fn, called for every call made by a signed-in caller
// (after authentication, before the permission check) with the caller and
// the time the call arrived on the registry's Clock. The users module
// keeps its sessions' last activity with it. fn runs on the call's
// goroutine, so it must be quick and never block or do I/O: remember,
// queue, and return. It must not change p, which is shared between calls.
func (r *Registry) OnActivity(fn func(p *auth.Principal, at time.Time)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var list []func(*auth.Principal, time.Time)
	if old := r.activity.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, fn)
	r.activity.Store(&list)
}

// active tells the activity functions of a call by p.
func (r *Registry) active(p *auth.Principal, at time.Time) {
	if list := r.activity.Load(); list != nil && p.Authenticated() {
		for _, fn := range *list {
			fn(p, at)
		}
	}
}
