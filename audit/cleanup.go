package audit

import (
	"context"
	"fmt"
	"time"
)

// cleanupTimeout bounds one round of the cleanup; what it did not delete
// the next round does.
const cleanupTimeout = 5 * time.Minute

// runCleanup deletes expired entries now and then every CleanupInterval
// (waited on Options.After) until bg ends.
func (m *Module) runCleanup(bg context.Context) {
	defer close(m.done)
	for {
		ctx, cancel := context.WithTimeout(bg, cleanupTimeout)
		if _, err := m.Cleanup(ctx); err != nil && bg.Err() == nil {
			m.log.WarnContext(ctx, "audit: deleting expired entries failed; retried at the next round", "err", err)
		}
		cancel()
		select {
		case <-bg.Done():
			return
		case <-m.opts.After(m.opts.CleanupInterval):
		}
	}
}

// Cleanup deletes the entries older than Options.Retention (by
// Options.Now) and answers how many it deleted. The module runs it every
// CleanupInterval; a host may run it too.
func (m *Module) Cleanup(ctx context.Context) (int64, error) {
	cutoff := m.opts.Now().UTC().Add(-m.opts.Retention)
	res, err := m.db.NewDelete().Model((*row)(nil)).ModelTableExpr(m.table).Where("a.created < ?", cutoff).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("audit: delete entries before %s: %w", cutoff.Format(time.RFC3339), err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
