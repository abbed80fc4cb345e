package calllog

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
)

// RunRetention runs the retention job once, as its timer would.
func (m *Module) RunRetention(ctx context.Context) error { return m.retain(ctx) }

// WithWriteTimeout bounds each batch write and statistics merge by d.
func WithWriteTimeout(o Options, d time.Duration) Options {
	o.writeTimeout = d
	return o
}

// WithMaxScanRows bounds the rows a filtered read-log counts through by n.
func WithMaxScanRows(o Options, n int) Options {
	o.maxScanRows = n
	return o
}

// MigrateTo applies the call log's migrations up to version, as a database
// made by an older release has them.
func MigrateTo(ctx context.Context, db *bun.DB, version int) error {
	return storage.Migrate(ctx, db, "calllog", migrations(newTables(""))[:version])
}

// HistoryBuckets is the number of buckets read-history-stat answers.
var HistoryBuckets = historyWindow(tables{}).n

// HistoryStatQuery is the query read-history-stat of method runs now.
func (m *Module) HistoryStatQuery(method string) string {
	first, last := m.history.bounds(m.opts.Now().UTC())
	query, args := m.statsQuery(m.history, []string{method}, false, first, last)
	return m.db.QueryGen().FormatQuery(query, args...)
}
