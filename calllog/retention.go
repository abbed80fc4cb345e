package calllog

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// retentionChunk bounds the rows one DELETE removes, so that a large backlog
// is removed in short transactions that do not hold up the writer.
const retentionChunk = 10_000

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

// retain removes rows and buckets older than Retention, and flush marks
// older than a day (or than Retention, if shorter).
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
	marks := now.Add(-min(markRetention, m.opts.Retention))
	if _, err := m.db.NewDelete().TableExpr(m.tables.flushes).Where("date < ?", marks).Exec(ctx); err != nil {
		return fmt.Errorf("calllog: retention: delete flush marks: %w", err)
	}
	return nil
}

// retainRows removes rows older than cutoff, method by method through the
// index that read-log uses (an index on date alone would cost every insert
// more than this hourly job saves), retentionChunk rows per statement.
// PostgreSQL finds the rows again by their physical address, ctid (the
// table has no other index, and its rows never change); SQLite by rowid.
func (m *Module) retainRows(ctx context.Context, cutoff time.Time) error {
	var methods []int64
	if err := m.db.NewSelect().TableExpr("?", bun.Ident(m.tables.methods)).Column("id").Scan(ctx, &methods); err != nil {
		return fmt.Errorf("calllog: retention: list methods: %w", err)
	}
	key, match := "id", "id IN (?)"
	if m.pg {
		key, match = "ctid", "ctid = ANY(ARRAY(?))"
	}
	for _, method := range methods {
		for {
			res, err := m.db.NewDelete().TableExpr("?", bun.Ident(m.tables.calls)).
				Where(match, m.db.NewSelect().TableExpr("?", bun.Ident(m.tables.calls)).Column(key).
					Where("method = ?", method).Where("date < ?", m.dateArg(cutoff)).Limit(retentionChunk)).
				Exec(ctx)
			if err != nil {
				return fmt.Errorf("calllog: retention: delete rows of method %d: %w", method, err)
			}
			if n, err := res.RowsAffected(); err != nil || n < retentionChunk {
				break
			}
		}
	}
	return nil
}
