// Package health serves a service's liveness and readiness as plain
// http.Handlers a host mounts, for Kubernetes probes and load balancers.
//
// Liveness answers 200 as long as the process serves HTTP, and checks
// nothing else: restarting an instance cannot mend its database.
// A Readiness runs the checks a host composes, concurrently and within
// Options.Timeout, and answers 200 when they all pass, 503 when one fails,
// with a small JSON body naming each check:
//
//	{"status":"unavailable","checks":{"database":"failed","migrations":"failed","channel":"ok","call_log":"ok"}}
//
// A check's error is logged when it begins to fail (and a line when it
// passes again), never answered: errors can name hosts, users and queries.
// Requests that arrive while the checks run share that run.
//
// The checks of a service built on this module, each from the package
// that knows the state it reads:
//
//	applied, _ := storage.ReadApplied(ctx, db) // after every Mount
//	ready := health.NewReadiness(health.Options{},
//		health.Check{Name: "database", Func: health.Ping(db)},
//		health.Check{Name: "migrations", Func: func(ctx context.Context) error { return applied.Check(ctx, db) }},
//		health.Check{Name: "channel", Func: health.Listening(sync)}, // a *storage.Sync or *natspubsub.Sync
//		health.Check{Name: "call_log", Func: calls.Ready},           // a *calllog.Module
//	)
//	mux.Handle("/healthz", health.Liveness())
//	mux.Handle("/readyz", ready)
//
// The package depends on nothing but the standard library.
package health
