package calllog

import (
	"context"
	"fmt"
	"time"
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

// loggedMethodIDs lists the method ids present in the rows. It walks the
// (method_id, date, id) index from one method to the next (a loose index
// scan), so it costs a few index probes per method, however many rows there are.
const loggedMethodIDs = `WITH RECURSIVE m (method_id) AS (
	SELECT (SELECT method_id FROM calllog_calls ORDER BY method_id LIMIT 1)
	UNION ALL
	SELECT (SELECT c.method_id FROM calllog_calls c WHERE c.method_id > m.method_id ORDER BY c.method_id LIMIT 1)
	FROM m WHERE m.method_id IS NOT NULL
)
SELECT method_id FROM m WHERE method_id IS NOT NULL`

// retainRows removes rows older than cutoff, method by method through the
// index that read-log uses: an index on date alone would cost every insert
// more than this hourly job saves.
func (m *Module) retainRows(ctx context.Context, cutoff time.Time) error {
	var ids []string
	if err := m.db.NewRaw(loggedMethodIDs).Scan(ctx, &ids); err != nil {
		return fmt.Errorf("calllog: retention: list methods: %w", err)
	}
	// PostgreSQL plans "id IN (subquery)" as a hash join over the whole table;
	// "= ANY(ARRAY(subquery))" probes the primary key for each id.
	match := "id IN (?)"
	if m.pg {
		match = "id = ANY(ARRAY(?))"
	}
	for _, id := range ids {
		for {
			res, err := m.db.NewDelete().TableExpr(tableCalls).
				Where(match, m.db.NewSelect().TableExpr(tableCalls).Column("id").
					Where("method_id = ?", id).Where("date < ?", cutoff).Limit(retentionChunk)).
				Exec(ctx)
			if err != nil {
				return fmt.Errorf("calllog: retention: delete rows of %s: %w", id, err)
			}
			if n, err := res.RowsAffected(); err != nil || n < retentionChunk {
				break
			}
		}
	}
	return nil
}
