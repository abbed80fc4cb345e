package calllog

import "context"

// RunRetention runs the retention job once, as its timer would.
func (m *Module) RunRetention(ctx context.Context) error { return m.retain(ctx) }

// WithInsert makes the writer use multi-row INSERT on PostgreSQL instead of COPY.
func WithInsert(o Options) Options {
	o.insert = true
	return o
}
