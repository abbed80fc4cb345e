package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authrpc/authrpc/rpc"
)

// registryCollectors read the registry's own state when scraped: calls in
// flight (counted by the hook), open sockets, events and refusals.
func registryCollectors(ns string, r *rpc.Registry, inFlight *atomic.Int64) []prometheus.Collector {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help}, f)
	}
	counter := func(name, help string, labels prometheus.Labels, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help, ConstLabels: labels}, f)
	}
	const refusalsHelp = "What the registry's bounds on sockets refused, by bound: subscriptions (event names past MaxSubscriptions or MaxEventNameBytes), sockets (upgrades past MaxSockets or MaxSocketsPerAddr), event_queue (sockets closed for falling MaxQueuedEvents behind)."
	return []prometheus.Collector{
		gauge("calls_in_flight", "Calls started and not yet answered (void calls: not yet run).",
			func() float64 { return float64(inFlight.Load()) }),
		gauge("websocket_sockets", "WebSockets open.",
			func() float64 { return float64(r.Sockets()) }),
		counter("events_published_total", "Events published on this instance.", nil,
			func() float64 { return float64(r.EventStats().Published) }),
		counter("events_received_total", "Events published on other instances that reached this one.", nil,
			func() float64 { return float64(r.EventStats().Received) }),
		counter("events_delivered_total", "Events queued on this instance's sockets, one per socket.", nil,
			func() float64 { return float64(r.EventStats().Delivered) }),
		counter("refusals_total", refusalsHelp, prometheus.Labels{"bound": "subscriptions"},
			func() float64 { return float64(r.Refusals().Subscriptions) }),
		counter("refusals_total", refusalsHelp, prometheus.Labels{"bound": "sockets"},
			func() float64 { return float64(r.Refusals().Sockets) }),
		counter("refusals_total", refusalsHelp, prometheus.Labels{"bound": "event_queue"},
			func() float64 { return float64(r.Refusals().EventQueue) }),
	}
}

// sourceCollectors read the sources given in opts when scraped.
func sourceCollectors(ns string, opts Options) []prometheus.Collector {
	var cs []prometheus.Collector
	if f := opts.CallLog; f != nil {
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "call_log_queued",
				Help: "Call records waiting to be written to the call log."},
				func() float64 { return float64(f().Queued) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "call_log_written_total",
				Help: "Call log rows written."},
				func() float64 { return float64(f().Written) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: "call_log_dropped_total",
				Help: "Call records not written: the queue was full, or the writer closed."},
				func() float64 { return float64(f().Dropped) }),
		)
	}
	if h := opts.Hasher; h != nil {
		cs = append(cs,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "password_hashes_running",
				Help: "Password hashes (argon2id) running."},
				func() float64 { return float64(h.Stats().Running) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "password_hashes_waiting",
				Help: "Callers waiting in the hashing queue for a slot."},
				func() float64 { return float64(h.Stats().Waiting) }),
		)
	}
	if s := opts.Sync; s != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "sync_listening",
			Help: "1 while the channel between instances listens (invalidations, settings and events from the others arrive), 0 while it does not."},
			func() float64 {
				if s.Listening() {
					return 1
				}
				return 0
			}))
	}
	return cs
}
