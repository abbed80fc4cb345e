package calllog

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// retentionChunk bounds the batches one DELETE removes, so that a large
// backlog is removed in short transactions that do not hold up the writer.
const retentionChunk = 1_000

// retentionTimeout bounds one run of the job; what it did not remove is
// removed by the next.
const retentionTimeout = 10 * time.Minute

// markRetention is how long flush marks are kept: a batch is retried within
// seconds, or at most for as long as the database is away.
const markRetention = 24 * time.Hour

// retentionFirstDelay is when the first run comes after Mount (unless
// RetentionInterval is shorter): not in the middle of the host's start-up,
// nor in a short-lived command that only prints the reference.
const retentionFirstDelay = time.Minute

// runRetention removes old rows and buckets a minute after Mount and then
// every RetentionInterval, until Close.
func (m *Module) runRetention() {
	defer m.jobWG.Done()
	t := time.NewTimer(min(retentionFirstDelay, m.opts.RetentionInterval))
	defer t.Stop()
	for {
		select {
		case <-m.bg.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(m.bg, retentionTimeout)
		err := m.retain(ctx)
		cancel()
		if err != nil && m.bg.Err() == nil {
			m.log.Warn("calllog: removing old rows failed; retried at the next run", "err", err)
		}
		t.Reset(m.opts.RetentionInterval)
	}
}

// retain removes rows and buckets older than Retention, runtime bins older
// than two hours and flush marks older than a day (or than Retention, if
// shorter).
func (m *Module) retain(ctx context.Context) error {
	now := m.opts.Now().UTC()
	cutoff := now.Add(-m.opts.Retention)
	if err := m.retainRows(ctx, cutoff); err != nil {
		return err
	}
	// Buckets are few (one per method and minute), so one statement each.
	for _, table := range []string{m.tables.stat1m, m.tables.stat10m} {
		if _, err := m.db.NewDelete().TableExpr(table).Where("date < ?", cutoff).Exec(ctx); err != nil {
			return fmt.Errorf("calllog: retention: delete %s: %w", table, err)
		}
	}
	bins := now.Add(-min(runtimeRetention, m.opts.Retention))
	if _, err := m.db.NewDelete().TableExpr(m.tables.runtime1m).Where("date < ?", bins).Exec(ctx); err != nil {
		return fmt.Errorf("calllog: retention: delete %s: %w", m.tables.runtime1m, err)
	}
	marks := now.Add(-min(markRetention, m.opts.Retention))
	if _, err := m.db.NewDelete().TableExpr(m.tables.flushes).Where("date < ?", marks).Exec(ctx); err != nil {
		return fmt.Errorf("calllog: retention: delete flush marks: %w", err)
	}
	return nil
}

// retainRows removes the rows older than cutoff, method by method through
// the index on (method, last_date): the batches whose newest row is older,
// retentionChunk batches per statement, and then, from the few batches
// that hold rows on both sides of the cutoff, the older rows (found
// through the index on (method, first_date); a batch's rows are in date
// order, so they are its first ones).
func (m *Module) retainRows(ctx context.Context, cutoff time.Time) error {
	var methods []int64
	if err := m.db.NewSelect().TableExpr("?", bun.Ident(m.tables.methods)).Column("id").Scan(ctx, &methods); err != nil {
		return fmt.Errorf("calllog: retention: list methods: %w", err)
	}
	c := cutoff.UnixMicro()
	for _, method := range methods {
		for {
			res, err := m.db.NewDelete().TableExpr("?", bun.Ident(m.tables.batches)).
				Where("id IN (?)", m.db.NewSelect().TableExpr("?", bun.Ident(m.tables.batches)).Column("id").
					Where("method = ?", method).Where("last_date < ?", c).Limit(retentionChunk)).
				Exec(ctx)
			if err != nil {
				return fmt.Errorf("calllog: retention: delete rows of method %d: %w", method, err)
			}
			if n, err := res.RowsAffected(); err != nil || n < retentionChunk {
				break
			}
		}
		if err := m.trimBatches(ctx, method, c); err != nil {
			return fmt.Errorf("calllog: retention: trim rows of method %d: %w", method, err)
		}
	}
	return nil
}

// trimBatches removes the rows older than cutoff (Unix microseconds) from
// the batches of method that also hold newer ones. Each keeps its ids.
func (m *Module) trimBatches(ctx context.Context, method, cutoff int64) error {
	var batches []struct {
		ID        int64  `bun:"id"`
		FirstDate int64  `bun:"first_date"`
		N         int    `bun:"n"`
		Data      []byte `bun:"data"`
	}
	err := m.db.NewSelect().TableExpr("?", bun.Ident(m.tables.batches)).Column("id", "first_date", "n", "data").
		Where("method = ?", method).Where("first_date < ?", cutoff).Scan(ctx, &batches)
	if err != nil {
		return err
	}
	for _, b := range batches {
		p := packedBatch{id: b.ID, firstDate: b.FirstDate, n: b.N, data: b.Data}
		rows, explicit, first, err := p.unpack(nil)
		if err != nil {
			return err
		}
		old := 0
		for old < len(rows) && rows[old].date < cutoff {
			old++
		}
		if old == len(rows) {
			continue // removed with the batches of older rows next time
		}
		rows = rows[old:]
		data := appendPacked(nil, rows, explicit, first+old, nil)
		_, err = m.db.NewUpdate().TableExpr("?", bun.Ident(m.tables.batches)).
			Set("first_date = ?", rows[0].date).Set("n = ?", len(rows)).Set("data = ?", data).
			Where("id = ?", b.ID).Exec(ctx)
		if err != nil {
			return err
		}
	}
	return nil
}
