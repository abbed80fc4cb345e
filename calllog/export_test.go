package calllog

import "context"

// RunRetention runs the retention job once, as its timer would.
func (m *Module) RunRetention(ctx context.Context) error { return m.retain(ctx) }
