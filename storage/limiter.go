package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"
)

// maxLimiterKey is the longest key stored as is; longer ones are stored as
// their SHA-256, so that a flood of long keys cannot bloat the table. So are
// keys PostgreSQL's TEXT cannot hold (a NUL byte, bad UTF-8).
const maxLimiterKey = 128

// The table of Limits. A row is a bucket; tat is the "theoretical arrival
// time" of the generic cell rate algorithm in Unix nanoseconds: the bucket
// is full once tat is past, so such rows mean nothing and Prune deletes
// them. ok records whether the last Take was allowed, for RETURNING.
//
// On PostgreSQL the table is UNLOGGED: a Take then waits for no WAL flush
// (measured: 4.8 ms a Take logged, 0.5 ms unlogged), and all a crash loses
// is the counters, which start again from full buckets. Replicas do not
// get the table; limits are kept on the primary only.
//
// {prefix} stands for LimitsOptions.TablePrefix (see Prefixed).
func limitsMigrations(prefix string) []Migration {
	return []Migration{{
		Version: 1, Name: "create authrpc_rate_limits",
		Up: SQL(Prefixed(prefix, limitsPostgres), Prefixed(prefix, limitsSQLite)),
	}}
}

const (
	limitsPostgres = `
CREATE UNLOGGED TABLE {prefix}authrpc_rate_limits (
	name TEXT    NOT NULL,
	key  TEXT    NOT NULL,
	tat  BIGINT  NOT NULL,
	ok   BOOLEAN NOT NULL,
	PRIMARY KEY (name, key)
);
CREATE INDEX {prefix}authrpc_rate_limits_tat_idx ON {prefix}authrpc_rate_limits (tat);`
	limitsSQLite = `
CREATE TABLE {prefix}authrpc_rate_limits (
	name TEXT    NOT NULL,
	key  TEXT    NOT NULL,
	tat  INTEGER NOT NULL,
	ok   BOOLEAN NOT NULL,
	PRIMARY KEY (name, key)
) WITHOUT ROWID;
CREATE INDEX {prefix}authrpc_rate_limits_tat_idx ON {prefix}authrpc_rate_limits (tat);`
)

// LimitsOptions configure Limits. The zero value is usable.
type LimitsOptions struct {
	// Now tells the time; tests set it. Default time.Now. Every instance
	// sharing the table should have the same clock: a skew of d between two
	// lets one of them grant up to d × Rate events early.
	Now func() time.Time

	// TablePrefix is put before the table's name (see CheckTablePrefix):
	// with "app_" the buckets live in app_authrpc_rate_limits, recorded in
	// app_authrpc_migrations. Limits under different prefixes share no
	// bucket. Default "": authrpc_rate_limits. The users module passes its
	// own Options.TablePrefix.
	TablePrefix string
}

// Limits keeps token buckets in the table authrpc_rate_limits of a shared
// database, so that every instance on the database counts against the
// same limits. Make one per database with NewLimits and a Limiter per
// limit with Limiter.
type Limits struct {
	db    *bun.DB
	now   func() time.Time
	table string // the table, after the prefix
	take  string // the upsert of Take, for this table and dialect
}

// NewLimits applies the migration of the table authrpc_rate_limits (as
// module "storage.limits", under LimitsOptions.TablePrefix, which overrides
// a WithTablePrefix among migrateOpts) and returns Limits on db.
func NewLimits(ctx context.Context, db *bun.DB, opts LimitsOptions, migrateOpts ...Option) (*Limits, error) {
	if err := CheckTablePrefix(opts.TablePrefix); err != nil {
		return nil, fmt.Errorf("storage: limits: %w", err)
	}
	migrateOpts = append(slices.Clip(migrateOpts), WithTablePrefix(opts.TablePrefix))
	if err := Migrate(ctx, db, "storage.limits", limitsMigrations(opts.TablePrefix), migrateOpts...); err != nil {
		return nil, fmt.Errorf("storage: limits: %w", err)
	}
	take := takeSQLite
	if IsPostgres(db) {
		take = takePostgres
	}
	l := &Limits{
		db:    db,
		now:   opts.Now,
		table: opts.TablePrefix + "authrpc_rate_limits",
		take:  Prefixed(opts.TablePrefix, take),
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l, nil
}

// Limiter returns the limiter called name (its rows in the table carry the
// name, so limiters of different names never share a bucket, and those of
// one name on every instance always do): each key has a bucket of burst
// events (at least 1) that refills at rate per second (which must be
// positive). Two instances must give one name the same rate and burst.
func (l *Limits) Limiter(name string, rate float64, burst int) *Limiter {
	if !(rate > 0) {
		panic("storage: Limiter: rate must be positive")
	}
	interval := min(float64(math.MaxInt64/4), 1e9/rate) // ns per event; clamped so that burst × interval fits
	b := max(1, burst)
	delay := min(float64(math.MaxInt64/4), float64(b-1)*interval)
	return &Limiter{limits: l, name: name, interval: int64(interval), delay: int64(delay)}
}

// Prune deletes the buckets that have refilled, which are the same as no
// bucket, and returns how many it deleted. Call it now and then (the users
// module does, with its session cleanup); the table's size is bounded by
// the keys seen during the longest refill time between two Prunes.
func (l *Limits) Prune(ctx context.Context) (int64, error) {
	res, err := l.db.NewDelete().TableExpr(l.table).
		Where("tat <= ?", l.now().UnixNano()).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("storage: prune rate limits: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// Limiter is a keyed rate limiter whose buckets live in the database: see
// Limits. Each Take is one statement, an atomic upsert, so instances racing
// for the last event of a bucket cannot both win it. It is safe for
// concurrent use and fits auth.RateLimiter.
type Limiter struct {
	limits   *Limits
	name     string
	interval int64 // ns between two events at the steady rate
	delay    int64 // (burst-1) × interval: how far tat may run ahead of now
}

// The upsert of Take. A new bucket starts with one event taken. An existing
// one allows the event when its tat is at most now + delay (the burst is not
// spent), and then moves tat on by one interval from max(tat, now); a refused
// event leaves it. SET sees the row as it was, on both databases.
const (
	takePostgres = `INSERT INTO {prefix}authrpc_rate_limits (name, key, tat, ok) VALUES (?, ?, ?, TRUE)
ON CONFLICT (name, key) DO UPDATE SET
	tat = CASE WHEN {prefix}authrpc_rate_limits.tat <= ? THEN GREATEST({prefix}authrpc_rate_limits.tat, ?) + ? ELSE {prefix}authrpc_rate_limits.tat END,
	ok = {prefix}authrpc_rate_limits.tat <= ?
RETURNING tat, ok`
	takeSQLite = `INSERT INTO {prefix}authrpc_rate_limits (name, key, tat, ok) VALUES (?, ?, ?, TRUE)
ON CONFLICT (name, key) DO UPDATE SET
	tat = CASE WHEN {prefix}authrpc_rate_limits.tat <= ? THEN MAX({prefix}authrpc_rate_limits.tat, ?) + ? ELSE {prefix}authrpc_rate_limits.tat END,
	ok = {prefix}authrpc_rate_limits.tat <= ?
RETURNING tat, ok`
)

// Take takes an event from key's bucket if it has one. When it has none,
// ok is false and retryAfter says how long until it will.
func (l *Limiter) Take(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error) {
	now := l.limits.now().UnixNano()
	limit := now + l.delay
	var tat int64
	err = l.limits.db.QueryRowContext(ctx, l.limits.take,
		l.name, storedKey(key), now+l.interval,
		limit, now, l.interval, limit,
	).Scan(&tat, &ok)
	if err != nil {
		return false, 0, fmt.Errorf("storage: rate limit %s: %w", l.name, err)
	}
	if ok {
		return true, 0, nil
	}
	// The next event is allowed once now + delay reaches tat.
	return false, time.Duration(max(tat-l.delay-now, 1)), nil
}

// Refill gives key a full bucket again: after a successful sign-in, say.
func (l *Limiter) Refill(ctx context.Context, key string) error {
	_, err := l.limits.db.NewDelete().TableExpr(l.limits.table).
		Where("name = ? AND key = ?", l.name, storedKey(key)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("storage: rate limit %s: refill: %w", l.name, err)
	}
	return nil
}

// Name returns the limiter's name.
func (l *Limiter) Name() string { return l.name }

func storedKey(key string) string {
	if len(key) <= maxLimiterKey && utf8.ValidString(key) && !strings.ContainsRune(key, 0) {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "#" + hex.EncodeToString(sum[:])
}
