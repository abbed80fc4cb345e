package calllog

import (
	"context"
	"time"
)

// RunRetention runs the retention job once, as its timer would.
func (m *Module) RunRetention(ctx context.Context) error { return m.retain(ctx) }

// WithInsert makes the writer use multi-row INSERT on PostgreSQL instead of COPY.
func WithInsert(o Options) Options {
	o.insert = true
	return o
}

// WithWriteTimeout bounds each batch write and statistics merge by d.
func WithWriteTimeout(o Options, d time.Duration) Options {
	o.writeTimeout = d
	return o
}
