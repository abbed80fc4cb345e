package users

import "context"

// Cleanup runs one round of the background cleanup now, so that tests
// that move the clock need not wait for the ticker.
func (m *Module) Cleanup(ctx context.Context) { m.cleanup(ctx) }
