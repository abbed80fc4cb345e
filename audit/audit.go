package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// Entry is what a change tells the trail: its action, its target, the
// fields it set and its result. Who made it, from where and when, Record
// adds. It is storage.AuditEntry, so that the modules that record changes
// need not import this package.
type Entry = storage.AuditEntry

// Defaults for Options.
const (
	DefaultPermission      = "admin"
	DefaultRetention       = 365 * 24 * time.Hour
	DefaultCleanupInterval = time.Hour
)

// Options configure Mount. The zero value is valid; every field documents
// its default.
type Options struct {
	// Permission is the tag a caller needs for /v1/admin/audit/read. It
	// must be declared (rpc.Options.Permissions) before Mount, which fails
	// otherwise. Give it the users module's AdminPermission. Default
	// DefaultPermission, "admin".
	Permission string

	// Retention is how long entries are kept. Default DefaultRetention,
	// 365 days.
	Retention time.Duration

	// CleanupInterval is how often entries older than Retention are
	// deleted, after a first round in Mount. Default DefaultCleanupInterval,
	// 1 hour.
	CleanupInterval time.Duration

	// TablePrefix goes before the name of the module's table and indexes
	// and of the record of its migrations (see storage.CheckTablePrefix):
	// with "app_", entries are in app_authrpc_audit. Give it the users
	// module's TablePrefix. Default "": authrpc_audit.
	TablePrefix string

	// Now stamps entries and tells the cleanup what has expired. Default
	// time.Now.
	Now func() time.Time

	// After waits between cleanups. Default time.After; tests pass
	// internal/fakeclock's.
	After func(time.Duration) <-chan time.Time
}

func (o *Options) setDefaults() {
	if o.Permission == "" {
		o.Permission = DefaultPermission
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.CleanupInterval <= 0 {
		o.CleanupInterval = DefaultCleanupInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
}

// Module is the mounted audit trail. It is a storage.Auditor: hand it to
// the users, tokens and settings modules' Options.Audit, and call Record
// from a host's own methods.
type Module struct {
	db    *bun.DB
	table string // the table after Options.TablePrefix, AS a (row's alias)
	opts  Options
	log   *slog.Logger

	stop     context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

var _ storage.Auditor = (*Module)(nil)

// Mount runs the module's migrations, registers /v1/admin/audit/read on
// reg and starts the cleanup of old entries, which Close stops (Mount
// hands Close to reg.OnShutdown). db is the database of the modules whose
// changes it records: entries are written in their transactions.
func Mount(ctx context.Context, reg *rpc.Registry, db *bun.DB, opts Options) (*Module, error) {
	if reg == nil || db == nil {
		return nil, errors.New("audit: mount: the registry and the database are required")
	}
	opts.setDefaults()
	if err := storage.CheckTablePrefix(opts.TablePrefix); err != nil {
		return nil, fmt.Errorf("audit: mount: Options.TablePrefix: %w", err)
	}
	if err := reg.Permissions().CheckTag(opts.Permission); err != nil {
		return nil, fmt.Errorf("audit: mount: Options.Permission: %w", err)
	}
	if err := storage.Migrate(ctx, db, "audit", migrations(opts.TablePrefix),
		storage.WithLogger(reg.Logger()), storage.WithTablePrefix(opts.TablePrefix)); err != nil {
		return nil, fmt.Errorf("audit: mount: %w", err)
	}
	m := &Module{
		db:    db,
		table: opts.TablePrefix + "authrpc_audit AS a",
		opts:  opts,
		log:   reg.Logger(),
		done:  make(chan struct{}),
	}
	m.register(reg)
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.stop = stop
	go m.runCleanup(bg)
	reg.OnShutdown(m.Close)
	return m, nil
}

// Close stops the cleanup and waits for a round in progress, or for ctx.
func (m *Module) Close(ctx context.Context) error {
	m.stopOnce.Do(m.stop)
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: close: %w", ctx.Err())
	}
}
