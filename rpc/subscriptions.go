package rpc

import (
	"bytes"
	"encoding/json"
	"iter"
	"sync"
	"sync/atomic"
)

// subscriptions are the event names a 6.x client asked for, held in one
// set that each /subscribe and /unsubscribe changes in place, bounded in
// count and in the length of a name. Events read it on every push.
type subscriptions struct {
	active atomic.Bool // the client has subscribed or unsubscribed: a 6.x client

	mu    sync.RWMutex
	names map[string]struct{}
}

// wants reports whether the socket gets the event name: any, for a client
// that never subscribed (the 4.x client), else those it subscribed to.
func (ss *subscriptions) wants(name string) bool {
	if !ss.active.Load() {
		return true
	}
	ss.mu.RLock()
	_, ok := ss.names[name]
	ss.mu.RUnlock()
	return ok
}

// change adds (on) or removes the names params lists ([[names]], [names]
// or one name), keeping at most max names of at most maxBytes bytes, and
// returns how many it refused for those bounds. What is not a string is
// ignored, as before any bound.
func (ss *subscriptions) change(on bool, params json.RawMessage, max, maxBytes int) (refused int) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.names == nil {
		ss.names = make(map[string]struct{})
		ss.active.Store(true)
	}
	for raw := range eventNames(params) {
		name, ok := decodeName(raw, maxBytes)
		switch {
		case !on:
			if ok {
				delete(ss.names, string(name))
			}
		case !ok:
			refused++
		default:
			if _, dup := ss.names[string(name)]; dup {
				continue
			}
			if len(ss.names) >= max {
				refused++
				continue
			}
			ss.names[string(name)] = struct{}{}
		}
	}
	return refused
}

// eventNames yields the JSON strings of params: the items of [[names]] or
// [names], or params itself when it is one string.
func eventNames(params json.RawMessage) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		params = bytes.TrimSpace(params)
		if len(params) == 0 {
			return
		}
		if params[0] == '"' {
			yield(params)
			return
		}
		if params[0] != '[' {
			return
		}
		for item := range items(params) {
			switch item[0] {
			case '"':
				if !yield(item) {
					return
				}
			case '[':
				for name := range items(item) {
					if name[0] == '"' && !yield(name) {
						return
					}
				}
			}
		}
	}
}

// decodeName returns the text of raw, a JSON string, reporting false when
// it is longer than maxBytes. A name without escapes is raw's own bytes.
func decodeName(raw []byte, maxBytes int) ([]byte, bool) {
	text := raw[1 : len(raw)-1]
	if bytes.IndexByte(text, '\\') < 0 {
		return text, len(text) <= maxBytes
	}
	if len(text) > 6*maxBytes {
		return nil, false // too long however it is escaped (\u0041 is one byte)
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, false
	}
	return []byte(s), len(s) <= maxBytes
}
