package users

import (
	"context"
	"log/slog"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
)

// MigrateTo applies the module's migrations up to version, as a database
// made by an older release has them.
func MigrateTo(ctx context.Context, db *bun.DB, version int) error {
	var upTo []storage.Migration
	for _, m := range migrations(slog.New(slog.DiscardHandler), "") {
		if m.Version <= version {
			upTo = append(upTo, m)
		}
	}
	return storage.Migrate(ctx, db, "users", upTo)
}

// Cleanup runs one round of the background cleanup now, so that tests
// that move the clock need not wait for the ticker.
func (m *Module) Cleanup(ctx context.Context) { m.cleanup(ctx) }

// ActivityWritten returns a channel closed after the next write of the
// sessions' last activity.
func (m *Module) ActivityWritten() <-chan struct{} { return m.activity.written() }

// ActivityQueued counts the sessions queued for a write of their last
// activity so far.
func (m *Module) ActivityQueued() int64 { return m.activity.queued.Load() }
