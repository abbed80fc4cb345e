package rpc

import "sync/atomic"

// Refusals counts what the registry's bounds refused since it was made,
// for a metrics exporter to read (see Registry.Refusals).
type Refusals struct {
	// Subscriptions counts the event names sockets asked for with
	// /subscribe and did not get: past WebSocketOptions.MaxSubscriptions,
	// or longer than MaxEventNameBytes.
	Subscriptions uint64
}

// refusals are a registry's Refusals as they are counted.
type refusals struct {
	subscriptions atomic.Uint64
}

// Refusals returns the counts of what the registry's bounds refused so far.
func (r *Registry) Refusals() Refusals {
	return Refusals{
		Subscriptions: r.refused.subscriptions.Load(),
	}
}
