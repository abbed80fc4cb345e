package calllog

import (
	"context"
	"fmt"
	"time"
)

// retentionChunk bounds the rows one DELETE removes, so that a large backlog
// is removed in short transactions that do not hold up the writer.
const retentionChunk = 10_000

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
		if err := m.retain(m.bg); err != nil && m.bg.Err() == nil {
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
	for {
		res, err := m.db.NewDelete().TableExpr(tableCalls).
			Where("id IN (?)", m.db.NewSelect().TableExpr(tableCalls).Column("id").
				Where("date < ?", cutoff).Limit(retentionChunk)).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("calllog: retention: delete rows: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n < retentionChunk {
			break
		}
	}
	// Buckets are few (one per method and minute), so one statement each.
	for _, table := range []string{tableStat1m, tableStat10m} {
		if _, err := m.db.NewDelete().TableExpr(table).Where("date < ?", cutoff).Exec(ctx); err != nil {
			return fmt.Errorf("calllog: retention: delete %s: %w", table, err)
		}
	}
	marks := now.Add(-min(markRetention, m.opts.Retention))
	if _, err := m.db.NewDelete().TableExpr(tableFlushes).Where("date < ?", marks).Exec(ctx); err != nil {
		return fmt.Errorf("calllog: retention: delete flush marks: %w", err)
	}
	return nil
}
