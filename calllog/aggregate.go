package calllog

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"
)

// aggKey names a minute bucket of a method (by its index in the queue's
// names); minute counts from the Unix epoch.
type aggKey struct {
	method uint32
	minute int64
}

func minuteOf(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return (s - 59) / 60
	}
	return s / 60
}

// counts are a bucket's statistics as sums, so that they add up across
// flushes and instances.
type counts struct {
	accepted, declined, errors, exceptions int64
	runtimeSum, runtimeMax                 int64 // nanoseconds, accepted calls only
	// bins count the accepted calls' runtimes (made at the first one);
	// merge leaves them alone: they are stored as rows of their own.
	bins *binCounts
}

func (c *counts) add(runtime time.Duration, flags uint8) {
	if flags&flagException != 0 {
		c.exceptions++
	}
	if flags&flagDeclined != 0 {
		c.declined++
		return
	}
	c.accepted++
	if flags&flagError != 0 {
		c.errors++
	}
	ns := max(int64(runtime), 0)
	c.runtimeSum += ns
	c.runtimeMax = max(c.runtimeMax, ns)
	if c.bins == nil {
		c.bins = new(binCounts)
	}
	c.bins[runtimeBin(ns)]++
}

func (c *counts) merge(o *counts) {
	c.accepted += o.accepted
	c.declined += o.declined
	c.errors += o.errors
	c.exceptions += o.exceptions
	c.runtimeSum += o.runtimeSum
	c.runtimeMax = max(c.runtimeMax, o.runtimeMax)
}

// statBatch is one merge of in-memory statistics into the stored buckets:
// the same deltas go to the minute and the ten-minute table in one
// transaction, marked with token.
type statBatch struct {
	token    string
	minute   []bucketRow
	tenMin   []bucketRow
	bins     []binRow // of the minutes
	attempts int
}

func newStatBatch(agg map[aggKey]*counts, names []string) *statBatch {
	type key struct {
		method string
		minute int64
	}
	// Keyed by the stored (cleaned) name: two names that clean to the same
	// text must not be two rows of one upsert.
	minute := make(map[key]*counts, len(agg))
	ten := make(map[key]*counts)
	add := func(m map[key]*counts, k key, c *counts) {
		if t := m[k]; t != nil {
			t.merge(c)
		} else {
			t := *c
			m[k] = &t
		}
	}
	for k, c := range agg {
		name := cleanText(names[k.method])
		add(minute, key{name, k.minute}, c)
		add(ten, key{name, k.minute - mod(k.minute, 10)}, c)
	}
	b := &statBatch{token: rand.Text(), minute: make([]bucketRow, 0, len(minute)), tenMin: make([]bucketRow, 0, len(ten))}
	for k, c := range minute {
		b.minute = append(b.minute, toBucketRow(k.method, k.minute*60, c))
	}
	for k, c := range ten {
		b.tenMin = append(b.tenMin, toBucketRow(k.method, k.minute*60, c))
	}
	// Rows in key order take their row locks in the same order on every
	// instance, so concurrent merges wait for each other instead of deadlocking.
	byKey := func(a, b bucketRow) int {
		if c := cmp.Compare(a.MethodID, b.MethodID); c != 0 {
			return c
		}
		return a.Date.Compare(b.Date)
	}
	slices.SortFunc(b.minute, byKey)
	slices.SortFunc(b.tenMin, byKey)
	b.bins = binRows(agg, names)
	return b
}

// binRows are the runtime bins of agg as rows, in key order.
func binRows(agg map[aggKey]*counts, names []string) []binRow {
	type key struct {
		method string
		minute int64
		bin    int16
	}
	sums := make(map[key]int64)
	for k, c := range agg {
		if c.bins == nil {
			continue
		}
		name := cleanText(names[k.method])
		for bin, n := range c.bins {
			if n > 0 {
				sums[key{name, k.minute, int16(bin)}] += int64(n)
			}
		}
	}
	rows := make([]binRow, 0, len(sums))
	for k, n := range sums {
		rows = append(rows, binRow{MethodID: k.method, Date: time.Unix(k.minute*60, 0).UTC(), Bin: k.bin, N: n})
	}
	slices.SortFunc(rows, func(a, b binRow) int {
		if c := cmp.Compare(a.MethodID, b.MethodID); c != 0 {
			return c
		}
		if c := a.Date.Compare(b.Date); c != 0 {
			return c
		}
		return cmp.Compare(a.Bin, b.Bin)
	})
	return rows
}

func mod(a, n int64) int64 { return ((a % n) + n) % n }

func toBucketRow(method string, unix int64, c *counts) bucketRow {
	return bucketRow{
		MethodID:        method,
		Date:            time.Unix(unix, 0).UTC(),
		TotalAccepted:   c.accepted,
		TotalDeclined:   c.declined,
		TotalErrors:     c.errors,
		TotalExceptions: c.exceptions,
		RuntimeSumNS:    c.runtimeSum,
		RuntimeMaxNS:    c.runtimeMax,
	}
}

// statFlusher is the state of the statistics merges: a batch that failed
// and must be retried as it is, and a spare map for the queue.
type statFlusher struct {
	pending *statBatch
	spare   map[aggKey]*counts
	logs    rateLog
}

// flushStats merges the statistics gathered in memory into the stored
// buckets. A batch that fails is kept and retried first next time, as it is,
// while new calls keep counting in memory.
func (m *Module) flushStats(ctx context.Context) error {
	f := &m.stats
	if f.pending != nil {
		if err := m.writeStats(ctx, f.pending); err != nil {
			if !unwritable(err) {
				return err
			}
			// Refused for its data (a method id that is not valid text,
			// fed straight to ObserveCall): retrying cannot help.
			m.log.Error("calllog: statistics refused by the database; dropped", "buckets", len(f.pending.minute), "err", err)
		}
		f.pending = nil
	}
	if f.spare == nil {
		f.spare = make(map[aggKey]*counts)
	}
	agg, names := m.q.swapAgg(f.spare)
	if len(agg) == 0 {
		f.spare = agg
		return nil
	}
	b := newStatBatch(agg, names)
	clear(agg)
	f.spare = agg
	if err := m.writeStats(ctx, b); err != nil {
		f.pending = b
		return err
	}
	return nil
}

// statUpsertChunk bounds the rows of one upsert statement.
const statUpsertChunk = 1000

func (m *Module) writeStats(ctx context.Context, b *statBatch) error {
	retry := b.attempts > 0
	b.attempts++
	ctx, cancel := context.WithTimeout(ctx, m.opts.writeTimeout)
	defer cancel()
	err := m.inFlushTx(ctx, b.token, retry, func(ctx context.Context, tx bun.Tx) error {
		for _, t := range []struct {
			name string
			rows []bucketRow
		}{{m.tables.stat1m, b.minute}, {m.tables.stat10m, b.tenMin}} {
			for rows := range slices.Chunk(t.rows, statUpsertChunk) {
				if err := m.upsertBuckets(ctx, tx, t.name, rows); err != nil {
					return err
				}
			}
		}
		for rows := range slices.Chunk(b.bins, statUpsertChunk) {
			if err := m.upsertBins(ctx, tx, rows); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("calllog: merge statistics: %w", err)
	}
	return nil
}

// upsertBuckets adds rows to the stored buckets of table, creating those that
// do not exist yet.
func (m *Module) upsertBuckets(ctx context.Context, tx bun.Tx, table string, rows []bucketRow) error {
	greatest := "max"
	if m.pg {
		greatest = "GREATEST"
	}
	q := tx.NewInsert().Model(&rows).ModelTableExpr(table).
		On("CONFLICT (method_id, date) DO UPDATE").
		Returning("NULL")
	for _, col := range []string{"total_accepted", "total_declined", "total_errors", "total_exceptions", "runtime_sum_ns"} {
		q = q.Set("? = ?.? + EXCLUDED.?", bun.Ident(col), bun.Ident(table), bun.Ident(col), bun.Ident(col))
	}
	q = q.Set("runtime_max_ns = "+greatest+"(?.runtime_max_ns, EXCLUDED.runtime_max_ns)", bun.Ident(table))
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("upsert %s: %w", table, err)
	}
	return nil
}

// upsertBins adds rows to the stored runtime bins.
func (m *Module) upsertBins(ctx context.Context, tx bun.Tx, rows []binRow) error {
	table := m.tables.runtime1m
	_, err := tx.NewInsert().Model(&rows).ModelTableExpr(table).
		On("CONFLICT (method_id, date, bin) DO UPDATE").
		Set("n = ?.n + EXCLUDED.n", bun.Ident(table)).
		Returning("NULL").Exec(ctx)
	if err != nil {
		return fmt.Errorf("upsert %s: %w", table, err)
	}
	return nil
}

// inFlushTx runs write in a transaction that also records the flush mark
// token, so that a batch is stored once however often it is tried. On a
// retry the mark is looked up first: an earlier attempt may have committed
// although its answer was lost, and then write is skipped.
func (m *Module) inFlushTx(ctx context.Context, token string, retry bool, write func(ctx context.Context, tx bun.Tx) error) error {
	return m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if retry {
			done, err := tx.NewSelect().Model((*flushMark)(nil)).ModelTableExpr(m.tables.flushMarks).Where("token = ?", token).Exists(ctx)
			if err != nil {
				return fmt.Errorf("check flush mark: %w", err)
			}
			if done {
				return nil
			}
		}
		if err := write(ctx, tx); err != nil {
			return err
		}
		mark := flushMark{Token: token, Date: m.opts.Now().UTC()}
		if _, err := tx.NewInsert().Model(&mark).ModelTableExpr(m.tables.flushMarks).Exec(ctx); err != nil {
			return fmt.Errorf("mark flush: %w", err)
		}
		return nil
	})
}

// runStats merges the statistics every StatsInterval until Close.
func (m *Module) runStats() {
	defer m.writerWG.Done()
	t := time.NewTicker(m.opts.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		if err := m.flushStats(m.bg); err != nil {
			m.stats.logs.error(m, "calllog: merging statistics failed; they stay in memory and are retried", "err", err)
		}
	}
}

// flushStatsFinal merges everything left, retrying until ctx ends.
func (m *Module) flushStatsFinal(ctx context.Context) error {
	back := backoff{}
	for {
		err := m.flushStats(ctx)
		if err == nil {
			return nil
		}
		if !back.wait(ctx) {
			n := m.loseStats()
			m.log.Error("calllog: close: statistics not merged", "buckets", n, "err", err)
			return fmt.Errorf("calllog: close: %d minute buckets of statistics not merged: %w", n, err)
		}
	}
}

// loseStats gives up the statistics not merged (Close ran out of time) and
// says how many minute buckets they held.
func (m *Module) loseStats() int {
	agg, _ := m.q.swapAgg(map[aggKey]*counts{})
	n := len(agg)
	if p := m.stats.pending; p != nil {
		n += len(p.minute)
		m.stats.pending = nil
	}
	return n
}
