// Package metrics exports a registry's calls and state to Prometheus
// (github.com/prometheus/client_golang). It is a package of its own so that
// rpc and the modules do not depend on Prometheus: a host that does not
// import it does not build it.
//
// New hooks into every call of an rpc.Registry (rpc.Registry.Hook) and
// registers what it reads when scraped; Handler serves them:
//
//	m, err := metrics.New(reg, metrics.Options{
//		CallLog: func() metrics.CallLogStats { return metrics.CallLogStats(calls.Stats()) },
//		Hasher:  usersModule.Hasher(),
//		Sync:    sync, // a *storage.Sync or *natspubsub.Sync
//	})
//	mux.Handle("/metrics", m.Handler())
//
// The metrics, under Options.Namespace (default authrpc):
//
//	authrpc_calls_total{method,outcome}          counter: calls answered; outcome ok, error, exception, declined
//	authrpc_call_duration_seconds{method}        histogram: arrival to answer, of the calls not declined
//	authrpc_calls_rate_limited_total{method}     counter: calls answered 429 or -32802
//	authrpc_calls_in_flight                      gauge
//	authrpc_websocket_sockets                    gauge: sockets open
//	authrpc_events_published_total               counter: events published on this instance
//	authrpc_events_received_total                counter: events from other instances
//	authrpc_events_delivered_total               counter: events queued on sockets, one per socket
//	authrpc_refusals_total{bound}                counter: subscriptions, sockets, event_queue
//	authrpc_call_log_queued                      gauge (Options.CallLog)
//	authrpc_call_log_written_total               counter (Options.CallLog)
//	authrpc_call_log_dropped_total               counter (Options.CallLog)
//	authrpc_password_hashes_running              gauge (Options.Hasher)
//	authrpc_password_hashes_waiting              gauge (Options.Hasher)
//	authrpc_sync_listening                       gauge: 1 or 0 (Options.Sync)
//
// and, with the default Options.Registry, the Go runtime's (go_*) and the
// process's (process_*).
//
// The outcomes part the calls as the call log counts them: its accepted
// calls are ok + error + exception, its errors error + exception. Calls of
// every method are counted, whether or not it keeps a call log, and the
// registry's own /ping and /healthcheck; HTTP calls and WebSocket calls
// alike.
//
// Labels stay few: the method label is the id of a registered method (or
// /ping, /healthcheck), and every path that names none is counted under
// UnknownMethod, so a client cannot make series by calling random paths.
// No label holds a user, a token or an address.
//
// A call costs the hook a map lookup and a few atomic adds, and no
// allocation (BenchmarkCall measures it beside the same call without
// metrics). What the sources report is read only when scraped.
//
// /metrics tells anyone who reads it which methods are called how often:
// serve it where only the scraper reaches it (an internal port or network),
// or behind the host's own check.
package metrics
