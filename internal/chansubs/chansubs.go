// Package chansubs holds what every channel between instances (storage's
// over PostgreSQL, natspubsub's over NATS) keeps for the code that listens
// to it: the rule for channel names, the payload subscribers and the state
// subscribers, so that both channels behave alike to auth, rpc and
// settings.
package chansubs

import (
	"slices"
	"sync"
	"sync/atomic"
)

// MaxName bounds channel names: well under PostgreSQL's 63-byte
// identifiers once prefixed, and the same on NATS, so that a host moves its
// channels from one to the other unchanged.
const MaxName = 32

// ValidName reports whether name is a channel name: 1 to MaxName of
// [a-z0-9_], starting with a letter.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxName || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// Payloads are a channel's payload subscribers. Adding copies the list, so
// that delivery reads it without a lock. The zero value has none.
type Payloads struct {
	mu   sync.Mutex
	list atomic.Pointer[[]func(string)]
}

// Add subscribes fn.
func (p *Payloads) Add(fn func(payload string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var list []func(string)
	if old := p.list.Load(); old != nil {
		list = slices.Clone(*old)
	}
	list = append(list, fn)
	p.list.Store(&list)
}

// Deliver calls every subscriber with payload, on the calling goroutine.
func (p *Payloads) Deliver(payload string) {
	if list := p.list.Load(); list != nil {
		for _, fn := range *list {
			fn(payload)
		}
	}
}

// States are a channel's state subscribers and the state they were last
// told. It has no lock of its own: the channel serialises Add and Set
// under one lock for all its channels, so that each subscriber sees the
// changes in order. The zero value has none, and is not listening.
type States struct {
	listening bool
	list      []func(bool)
}

// NewStates returns States that start out listening or not.
func NewStates(listening bool) States { return States{listening: listening} }

// Add subscribes fn and tells it the current state at once.
func (s *States) Add(fn func(listening bool)) {
	s.list = append(s.list, fn)
	fn(s.listening)
}

// Set records the state and tells the subscribers, if it changed.
func (s *States) Set(listening bool) {
	if s.listening == listening {
		return
	}
	s.listening = listening
	for _, fn := range s.list {
		fn(listening)
	}
}
