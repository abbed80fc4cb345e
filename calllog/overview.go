package calllog

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
)

// Overview is one method's calls over the last hour, as read-overview
// answers them. The counts add up: Calls = OK + Errors + Declined, and
// Accepted = OK + Errors; Exceptions are some of the Errors.
type Overview struct {
	MethodID string `json:"method_id"`
	// Calls counts every call.
	Calls int64 `json:"calls"`
	// Accepted counts the calls that were not declined: the handler ran,
	// or the parameters were refused.
	Accepted int64 `json:"accepted"`
	// OK counts the accepted calls answered with success.
	OK int64 `json:"ok"`
	// Errors counts the accepted calls answered with an error, exceptions
	// included.
	Errors int64 `json:"errors"`
	// Exceptions counts the errors that were internal errors or panics.
	Exceptions int64 `json:"exceptions"`
	// Declined counts the calls refused for permissions or a rate limit.
	Declined int64 `json:"declined"`
	// AvgRuntime, P95Runtime and MaxRuntime are in milliseconds, over the
	// accepted calls; P95Runtime is estimated from the runtime histogram,
	// within a quarter of the exact value.
	AvgRuntime float64 `json:"avg_runtime"`
	P95Runtime float64 `json:"p95_runtime"`
	MaxRuntime float64 `json:"max_runtime"`
}

// readOverview answers every logged method's calls over the window of
// read-latest-stat (the minute that holds now and the 59 before it), so
// that its counts are the sums of that method's buckets there, with meta
// from and to: the window's start and end.
func (m *Module) readOverview(ctx context.Context) (rpc.Result, error) {
	now := m.opts.Now().UTC()
	first, last := m.latest.bounds(now)
	from, to := time.Unix(first, 0).UTC(), time.Unix(last, 0).UTC()
	ids := m.loggedMethods()
	slices.Sort(ids)
	sums := make(map[string]*counts, len(ids))
	bins := make(map[string]map[int]int64, len(ids))
	// One snapshot: a merge writes a minute's buckets and bins together.
	err := m.db.RunInTx(ctx, m.snapshot(), func(ctx context.Context, tx bun.Tx) error {
		if err := m.readOverviewSums(ctx, tx, from, to, sums); err != nil {
			return err
		}
		return m.readOverviewBins(ctx, tx, from, to, bins)
	})
	if err != nil {
		return rpc.Result{}, fmt.Errorf("calllog: read overview: %w", err)
	}
	rows := make([]Overview, 0, len(ids))
	for _, id := range ids {
		o := Overview{MethodID: id}
		if c := sums[id]; c != nil {
			o.Accepted, o.Declined, o.Errors, o.Exceptions = c.accepted, c.declined, c.errors, c.exceptions
			o.Calls, o.OK = c.accepted+c.declined, c.accepted-c.errors
			o.MaxRuntime = float64(c.runtimeMax) / float64(time.Millisecond)
			if c.accepted > 0 {
				o.AvgRuntime = avgRuntimeMS(c)
				o.P95Runtime = percentile(bins[id], 0.95, c.runtimeMax) / float64(time.Millisecond)
			}
		}
		rows = append(rows, o)
	}
	return rpc.Result{Data: rows, Meta: map[string]any{"from": from, "to": to.Add(time.Minute)}}, nil
}

// readOverviewSums adds up each method's minute buckets from from to to.
func (m *Module) readOverviewSums(ctx context.Context, tx bun.Tx, from, to time.Time, into map[string]*counts) error {
	q, err := tx.QueryContext(ctx, `SELECT method_id, CAST(SUM(total_accepted) AS BIGINT), CAST(SUM(total_declined) AS BIGINT),
	CAST(SUM(total_errors) AS BIGINT), CAST(SUM(total_exceptions) AS BIGINT), CAST(SUM(runtime_sum_ns) AS BIGINT), MAX(runtime_max_ns)
	FROM ? WHERE date >= ? AND date <= ? GROUP BY method_id`, bun.Ident(m.tables.stat1m), from, to)
	if err != nil {
		return err
	}
	defer q.Close()
	for q.Next() {
		var id string
		c := new(counts)
		if err := q.Scan(&id, &c.accepted, &c.declined, &c.errors, &c.exceptions, &c.runtimeSum, &c.runtimeMax); err != nil {
			return err
		}
		into[id] = c
	}
	return q.Err()
}

// readOverviewBins adds up each method's runtime bins from from to to.
func (m *Module) readOverviewBins(ctx context.Context, tx bun.Tx, from, to time.Time, into map[string]map[int]int64) error {
	q, err := tx.QueryContext(ctx, `SELECT method_id, bin, CAST(SUM(n) AS BIGINT) FROM ? WHERE date >= ? AND date <= ?
	GROUP BY method_id, bin`, bun.Ident(m.tables.runtime1m), from, to)
	if err != nil {
		return err
	}
	defer q.Close()
	for q.Next() {
		var id string
		var bin int
		var n int64
		if err := q.Scan(&id, &bin, &n); err != nil {
			return err
		}
		if bin < 0 || bin >= runtimeBins {
			continue
		}
		if into[id] == nil {
			into[id] = map[int]int64{}
		}
		into[id][bin] = n
	}
	return q.Err()
}
