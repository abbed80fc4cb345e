package calllog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// Options configure the call log. The zero value is ready to use.
type Options struct {
	// Permission is the permission tag the three methods require. It must
	// be declared (rpc.Options.Permissions) before Mount, which fails
	// otherwise. Default: "admin".
	Permission string

	// QueueSize bounds the call records waiting to be written, including
	// those of a batch being written or retried. Past it, while the database
	// is slow or away, new records are dropped (their statistics are still
	// counted), counted in Stats().Dropped and logged. Default: 100,000.
	QueueSize int

	// BatchSize is how many queued rows make a batch, which the writer
	// writes at once rather than at the next FlushInterval. A batch is
	// written in one transaction (a backlog in transactions of up to
	// 100,000 rows). Default: 1,000.
	BatchSize int

	// FlushInterval is how often queued rows are written when fewer than
	// BatchSize wait (a full batch is written at once). Default: 1s.
	FlushInterval time.Duration

	// StatsInterval is how often the statistics gathered in memory are merged
	// into the stored buckets. Statistics lag the calls by about this much;
	// keep it at most 5s so that read-latest-stat lags by at most 10s.
	// Default: 5s.
	StatsInterval time.Duration

	// Retention is how long rows and buckets are kept. Default: 30 days.
	Retention time.Duration

	// RetentionInterval is how often rows and buckets older than Retention
	// are removed; the first run is a minute after Mount (or after
	// RetentionInterval, if shorter). Default: 1h.
	RetentionInterval time.Duration

	// StallAfter is how long queued rows may wait with none written before
	// Ready reports the writer stalled: the database refuses the writes or
	// does not answer them. Default: 30s, or three FlushIntervals when that
	// is longer.
	StallAfter time.Duration

	// Logger receives write failures and dropped records.
	// Default: the registry's logger.
	Logger *slog.Logger

	// Now tells the time that statistics windows and retention are measured
	// from (calls are stamped by the registry). Default: time.Now.
	Now func() time.Time

	// TablePrefix goes before the name of every table, index and sequence
	// the module creates and of the record of its migrations (see
	// storage.CheckTablePrefix for what it may hold): with "app_", the rows
	// are in app_calllog_calls, the buckets in app_calllog_stat_1m and
	// app_calllog_stat_10m, recorded in app_authrpc_migrations, so that two
	// services mounted under different prefixes on one database keep call
	// logs of their own. Give it the users module's TablePrefix. Changing
	// it later starts afresh on empty tables. Default "": calllog_calls
	// and so on.
	TablePrefix string

	writeTimeout time.Duration // bounds one batch or merge; tests shorten it
	maxScanRows  int           // see maxScanRows; tests lower it
}

// Defaults of Options.
const (
	DefaultPermission        = "admin"
	DefaultQueueSize         = 100_000
	DefaultBatchSize         = 1_000
	DefaultFlushInterval     = time.Second
	DefaultStatsInterval     = 5 * time.Second
	DefaultRetention         = 30 * 24 * time.Hour
	DefaultRetentionInterval = time.Hour
	DefaultStallAfter        = 30 * time.Second
)

func (o *Options) setDefaults(reg *rpc.Registry) {
	if o.Permission == "" {
		o.Permission = DefaultPermission
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.StatsInterval <= 0 {
		o.StatsInterval = DefaultStatsInterval
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.RetentionInterval <= 0 {
		o.RetentionInterval = DefaultRetentionInterval
	}
	if o.StallAfter <= 0 {
		o.StallAfter = max(DefaultStallAfter, 3*o.FlushInterval)
	}
	if o.Logger == nil {
		o.Logger = reg.Logger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.writeTimeout <= 0 {
		o.writeTimeout = writeTimeout
	}
	if o.maxScanRows <= 0 {
		o.maxScanRows = maxScanRows
	}
}

// writeTimeout bounds one batch write or statistics merge (they take
// milliseconds), so that a server that stopped answering without closing
// the connection holds the writer up for no longer than this.
const writeTimeout = 30 * time.Second

// Module is a mounted call log: it observes the registry's calls, writes
// them in the background and serves /v1/admin/api-call-log/*.
type Module struct {
	opts Options
	reg  *rpc.Registry
	db   *bun.DB
	log  *slog.Logger
	pg   bool

	tables          tables
	latest, history window // read-latest-stat's and read-history-stat's buckets

	q *queue
	// progress is when (Options.Now, Unix nanoseconds) the writer last
	// wrote a group or found nothing to write, for Ready.
	progress atomic.Int64

	bg       context.Context // the background work's context, until Close ends
	cancelBg context.CancelFunc
	stop     chan struct{} // closed by Close
	closeCtx context.Context
	once     sync.Once
	writerWG sync.WaitGroup // the row writer and the stats flusher
	jobWG    sync.WaitGroup // the retention job

	stats     statFlusher // owned by the stats goroutine, then by Close
	writerErr error       // what the writer's drain could not write
}

// Mount runs the call log's migrations, registers its methods on reg under
// /v1/admin/api-call-log, starts the background writer, the statistics
// flusher and the retention job, and makes reg report every call to the
// module. reg.Shutdown calls Close, after the void calls are done.
func Mount(ctx context.Context, reg *rpc.Registry, db *bun.DB, opts Options) (*Module, error) {
	opts.setDefaults(reg)
	if err := storage.CheckTablePrefix(opts.TablePrefix); err != nil {
		return nil, fmt.Errorf("calllog: mount: Options.TablePrefix: %w", err)
	}
	if err := reg.Permissions().CheckTag(opts.Permission); err != nil {
		return nil, fmt.Errorf("calllog: mount: Options.Permission: %w", err)
	}
	t := newTables(opts.TablePrefix)
	if err := storage.Migrate(ctx, db, "calllog", migrations(t),
		storage.WithLogger(opts.Logger), storage.WithTablePrefix(opts.TablePrefix)); err != nil {
		return nil, fmt.Errorf("calllog: mount: %w", err)
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &Module{
		opts:     opts,
		reg:      reg,
		db:       db,
		log:      opts.Logger,
		pg:       storage.IsPostgres(db),
		tables:   t,
		latest:   latestWindow(t),
		history:  historyWindow(t),
		q:        newQueue(opts.QueueSize, opts.BatchSize, opts.Now),
		bg:       bg,
		cancelBg: cancel,
		stop:     make(chan struct{}),
	}
	m.progressed()
	m.register()
	reg.Observe(m)

	m.writerWG.Add(2)
	go m.runWriter()
	go m.runStats()
	m.jobWG.Add(1)
	go m.runRetention()
	reg.OnShutdown(m.Close)
	return m, nil
}

// ObserveCall queues a finished call for the log and counts it in the
// statistics. It never blocks on the database: past QueueSize the row is
// dropped and counted (the statistics still count the call).
func (m *Module) ObserveCall(rec rpc.CallRecord) {
	if m.q.push(&rec) {
		m.q.signal()
	}
}

// Stats describes the call log's queue.
type Stats struct {
	// Queued is the number of call records waiting to be written, those
	// being written included; it never exceeds Options.QueueSize.
	Queued int
	// Written is the number of rows written since Mount.
	Written uint64
	// Dropped is the number of call records that were not written because
	// the queue was full (or the module closed, or Close ran out of time).
	Dropped uint64
}

// Stats reports the queue's state.
func (m *Module) Stats() Stats { return m.q.stats() }

// Close writes every queued row (with those of calls still finishing), then
// stops accepting records (later ones are counted as dropped), merges the
// statistics gathered in memory and stops the background work. It waits
// until ctx ends for the database; what it could not write by then is
// counted as dropped, logged, and reported in the error. Calling it again
// does nothing.
func (m *Module) Close(ctx context.Context) error {
	var err error
	m.once.Do(func() {
		m.closeCtx = ctx
		// Work in flight (a merge, a write waiting on an unreachable server)
		// must not outlast ctx either.
		defer context.AfterFunc(ctx, m.cancelBg)()
		close(m.stop)
		m.writerWG.Wait()
		m.cancelBg()
		m.jobWG.Wait()
		// The writer closed the queue: no record can reach the aggregates now.
		err = errors.Join(m.writerErr, m.flushStatsFinal(ctx))
	})
	return err
}
