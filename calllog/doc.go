// Package calllog records every call of an API's logged methods and serves
// the log and its statistics under /v1/admin/api-call-log.
//
// Mount it on a registry and a database; it registers four methods
// (read-log, read-latest-stat, read-history-stat and read-overview, each
// needing the "admin" permission by default) and observes every call of a
// method whose rpc.Method.NoCallLog is false:
//
//	log, err := calllog.Mount(ctx, reg, db, calllog.Options{})
//	…
//	_ = reg.Shutdown(ctx)
//	_ = log.Close(ctx) // writes what is still queued
//
// Recording costs a call no database round trip. A call's record goes to a
// bounded in-memory queue (Options.QueueSize) that a writer drains in
// batches. Each write stores, per method, one row of calllog_batches
// (Options.TablePrefix goes before it, as before every name the module
// creates) holding that method's calls packed into bytes: the method is a
// number that calllog_methods names, dates are Unix microseconds, each
// call's start, runtime, user, status, flags, client address (an index
// into the batch's list of addresses) and (when it is not the status's
// own) status text take about a dozen bytes. The database then
// stores a row and two index entries, (method, newest date) for read-log
// and the retention job and (method, oldest date) for the retention job,
// per method and write rather than per call, which costs it and the writer
// about a tenth of what a row per call did. read-log reads a method's batches
// newest first, unpacking as many as its page needs, and counts its rows
// from the batches' counts; a row's id is its batch's id times 65,536
// plus its place in the batch, so ids grow with the writes and break ties
// between calls of one microsecond in the order they were written.
// read-log's filters (status, user, client address, flags, a range of
// start dates) narrow the batches it reads by their dates in SQL and the
// rows as it unpacks them; a range of dates alone is counted from the
// batches' counts but for the few that straddle its ends, any other
// filter by reading the rows, at most 1,000,000 past its page (the answer
// then says how far it counted). A call's statistics are added to per-minute
// counters in memory that are merged every Options.StatsInterval into
// stored one-minute and ten-minute buckets by upserts that add counts and
// runtime sums and keep the maximum, and, for the accepted calls' runtimes,
// into a histogram per method and minute (four bins per doubling, kept two
// hours) from which read-overview estimates the 95th percentile of the
// last hour within a quarter. Several instances sharing a database therefore add up, and the
// statistics never scan the raw rows. Their answers (MethodStats, about
// 11 MB for every method's hour at 500 methods) are written straight from
// the stored buckets into one buffer: each bucket's numbers are formatted
// once for its three series, and each date of the window once for every
// method.
//
// A call is declined when it was refused for permissions or a rate limit;
// every other call is accepted. Errors are accepted calls answered with an
// error (exceptions included), exceptions are internal errors and panics,
// and runtimes are averaged over accepted calls. So calls = accepted +
// declined, accepted = ok + errors, as read-overview answers them.
//
// While the database is away, queued rows wait and are written when it
// returns, with retries backing off up to 5 seconds; each batch is written
// with a mark in the same transaction, so a batch whose commit was cut off
// is not written twice. Past QueueSize new rows are dropped, counted in
// Stats and logged, but still counted in the statistics, which stay in
// memory until they are merged. Close writes everything that is queued.
// Ready reports the writer stalled when rows have waited, none written,
// for longer than Options.StallAfter: a readiness check (package health).
// Rows and buckets older than Options.Retention (30 days) are removed by a
// job that runs every Options.RetentionInterval.
//
// # What a crash loses
//
// A process that ends without Close (kill -9, a crash, the machine lost)
// loses the rows still queued, Stats().Queued at that moment, and the
// statistics counted since the last merge (up to StatsInterval, 5s, of
// calls). While the writer keeps up, the queued rows are those of the
// calls since it last took the queue: at most FlushInterval's worth, or
// BatchSize rows when that many arrive sooner (a full batch is written at
// once), plus the calls made during one write (milliseconds). With a call
// rate r and a write time w that is
//
//	min(r × FlushInterval, BatchSize) + r × w
//
// rows: with the defaults, up to about one second of calls and about 1,000
// rows. While the database is slow or away the queue grows, and QueueSize
// bounds the loss. A shutdown that calls Close (after the registry's
// Shutdown, on SIGTERM say) loses nothing, as long as the database answers
// before Close's context ends.
package calllog
