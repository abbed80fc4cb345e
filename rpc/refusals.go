package rpc

import "sync/atomic"

// Refusals counts what the registry's bounds refused since it was made,
// for a metrics exporter to read (see Registry.Refusals). Calls refused
// (a Method.RateLimit, MaxActive, MaxVoidCalls) are calls, which a
// CallHook sees with their codes; these are the refusals of what is not a
// call.
type Refusals struct {
	// Subscriptions counts the event names sockets asked for with
	// /subscribe and did not get: past WebSocketOptions.MaxSubscriptions,
	// or longer than MaxEventNameBytes.
	Subscriptions uint64
	// Sockets counts the WebSocket upgrades refused past
	// WebSocketOptions.MaxSockets or MaxSocketsPerAddr.
	Sockets uint64
	// EventQueue counts the sockets closed with CloseTooSlow for falling
	// WebSocketOptions.MaxQueuedEvents behind.
	EventQueue uint64
}

// refusals are a registry's Refusals as they are counted.
type refusals struct {
	subscriptions, sockets, eventQueue atomic.Uint64
}

// Refusals returns the counts of what the registry's bounds refused so far.
func (r *Registry) Refusals() Refusals {
	return Refusals{
		Subscriptions: r.refused.subscriptions.Load(),
		Sockets:       r.refused.sockets.Load(),
		EventQueue:    r.refused.eventQueue.Load(),
	}
}
