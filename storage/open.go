package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Default pool sizes; WithMaxOpenConns overrides them.
const (
	// PostgreSQL: enough for a busy instance, and a few instances together
	// stay well under the server's default max_connections (100).
	defaultPostgresConns = 16
	// SQLite: readers run in parallel under WAL, writers queue on the write
	// lock (busy_timeout), and modernc's SQLite runs on the calling
	// goroutine, so more connections than this buys nothing.
	defaultSQLiteConns = 8
)

// DefaultConnectTimeout bounds opening one PostgreSQL connection (dial,
// TLS, start-up and authentication) when neither the dsn's connect_timeout
// nor PGCONNECT_TIMEOUT sets it; WithConnectTimeout overrides it.
const DefaultConnectTimeout = 10 * time.Second

// Option configures Open and Migrate.
type Option func(*config)

type config struct {
	maxOpenConns   int
	connectTimeout time.Duration
	logger         *slog.Logger
	tablePrefix    string
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

// WithMaxOpenConns sets the size of the connection pool that Open creates
// (default 16 for PostgreSQL, 8 for SQLite). An in-memory SQLite database
// always uses one connection.
func WithMaxOpenConns(n int) Option {
	return func(c *config) { c.maxOpenConns = n }
}

// WithConnectTimeout bounds opening one PostgreSQL connection: dial, TLS,
// start-up and authentication (default DefaultConnectTimeout, or the dsn's
// connect_timeout). Without a bound, a server that accepts connections and
// never answers, as behind a network partition, would hold every caller
// that needs a new connection; with one, callers get an error instead.
func WithConnectTimeout(d time.Duration) Option {
	return func(c *config) { c.connectTimeout = d }
}

// WithLogger sets the logger that Migrate reports applied migrations to
// (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithTablePrefix puts prefix (see CheckTablePrefix) before the name of the
// table where Migrate records what it applied: prefix+"authrpc_migrations".
// Modules mounted under a table prefix pass theirs, so that the same module
// mounted under two prefixes on one database keeps two records and each
// copy gets its tables. Default "": authrpc_migrations. Open ignores it.
func WithTablePrefix(prefix string) Option {
	return func(c *config) { c.tablePrefix = prefix }
}

// Open opens and pings a database.
//
// A dsn starting with postgres:// or postgresql:// opens PostgreSQL through
// pgx (github.com/jackc/pgx/v5/stdlib), with a bound on opening each
// connection (WithConnectTimeout). A query's context ends a query that
// waits on a silent server: pgx then closes that connection and the pool
// opens a fresh one when it is next needed. Anything else is a SQLite database
// file path or a "file:" URI, opened through modernc.org/sqlite, optionally
// with that driver's query parameters; Open adds what a server needs unless
// the dsn sets it itself: WAL journal, busy_timeout 10s, foreign keys on,
// synchronous NORMAL, transactions that take the write lock at BEGIN
// (_txlock=immediate; read-only transactions stay deferred) and the "sqlite"
// time format. Together these let concurrent writers wait for each other
// instead of failing with SQLITE_BUSY.
//
// Errors never contain the password of the dsn.
func Open(ctx context.Context, dsn string, opts ...Option) (*bun.DB, error) {
	cfg := newConfig(opts)
	switch {
	case dsn == "":
		return nil, errors.New("storage: open: empty DSN")
	case isPostgresDSN(dsn):
		return openPostgres(ctx, dsn, cfg)
	default:
		return openSQLite(ctx, dsn, cfg)
	}
}

func isPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// IsPostgres reports whether db (a *bun.DB, bun.Tx or bun.Conn) talks to
// PostgreSQL; otherwise it is SQLite.
func IsPostgres(db bun.IDB) bool {
	return db.Dialect().Name() == dialect.PG
}

func openPostgres(ctx context.Context, dsn string, cfg config) (*bun.DB, error) {
	pgcfg, secrets, err := postgresConfig(dsn, cfg)
	if err != nil {
		return nil, err
	}
	sqldb := stdlib.OpenDB(*pgcfg)
	n := cfg.maxOpenConns
	if n <= 0 {
		n = defaultPostgresConns
	}
	sqldb.SetMaxOpenConns(n)
	sqldb.SetMaxIdleConns(n)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	// Recycle connections now and then, so that a pool follows a failover
	// or a changed pg_hba/DNS.
	sqldb.SetConnMaxLifetime(30 * time.Minute)

	if err := sqldb.PingContext(ctx); err != nil {
		_ = sqldb.Close()
		return nil, fmt.Errorf("storage: open postgres: %w", redact(err, secrets))
	}
	return bun.NewDB(sqldb, pgdialect.New()), nil
}

// postgresConfig parses dsn into the configuration of the pool's
// connections, with the connect bound and the query mode Open sets, and
// returns the secrets its errors must never show.
func postgresConfig(dsn string, cfg config) (*pgx.ConnConfig, []string, error) {
	secrets := dsnSecrets(dsn)
	pgcfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("storage: open postgres: %w", redact(err, secrets))
	}
	// The password may also come from PGPASSWORD or a passfile.
	secrets = append(secrets, pgcfg.Password)

	if d := cfg.connectTimeout; d > 0 || !hasConnectTimeout(dsn) {
		if d <= 0 {
			d = DefaultConnectTimeout
		}
		pgcfg.ConnectTimeout = d
		// pgx sets the dial's own timeout only from the dsn's setting; the
		// whole connect is bounded by ConnectTimeout either way.
		pgcfg.DialFunc = (&net.Dialer{Timeout: d, KeepAlive: 15 * time.Second}).DialContext
	}

	// bun inlines query arguments, so every distinct query text would become
	// a cached prepared statement (an extra round trip each) under pgx's
	// default mode. Exec mode sends an unnamed statement in one round trip.
	if !strings.Contains(dsn, "default_query_exec_mode") {
		pgcfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	return pgcfg, secrets, nil
}

// hasConnectTimeout reports whether the dsn or the environment bounds the
// connect, "0" (no bound) included.
func hasConnectTimeout(dsn string) bool {
	_, env := os.LookupEnv("PGCONNECT_TIMEOUT")
	return env || strings.Contains(dsn, "connect_timeout")
}

// sqliteDefaults are the driver parameters Open adds to a SQLite dsn; a
// default is left out when the dsn sets the same thing (by key, alias or a
// _pragma of the same name).
var sqliteDefaults = []struct{ key, alias, pragma, value string }{
	{"_busy_timeout", "_timeout", "busy_timeout", "10000"},
	{"_journal_mode", "_journal", "journal_mode", "WAL"},
	{"_synchronous", "_sync", "synchronous", "NORMAL"},
	{"_foreign_keys", "_fk", "foreign_keys", "1"},
	{"_txlock", "", "", "immediate"},
	{"_time_format", "", "", "sqlite"},
}

func openSQLite(ctx context.Context, dsn string, cfg config) (*bun.DB, error) {
	name, rawQuery, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("storage: open sqlite %q: bad parameters: %w", name, err)
	}
	var add []string
	for _, d := range sqliteDefaults {
		if !sqliteParamSet(q, d.key, d.alias, d.pragma) {
			add = append(add, d.key+"="+d.value)
		}
	}
	full := dsn
	if len(add) > 0 {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		full = dsn + sep + strings.Join(add, "&")
	}

	sqldb, err := sql.Open("sqlite", full)
	if err != nil {
		return nil, fmt.Errorf("storage: open sqlite %q: %w", name, err)
	}
	n := cfg.maxOpenConns
	if n <= 0 {
		n = defaultSQLiteConns
	}
	if isSQLiteMemory(name, q) {
		// Every connection to :memory: has a database of its own; a single
		// connection that is never closed keeps one database alive.
		n = 1
	}
	sqldb.SetMaxOpenConns(n)
	sqldb.SetMaxIdleConns(n)
	sqldb.SetConnMaxLifetime(0)
	sqldb.SetConnMaxIdleTime(0)

	if err := sqldb.PingContext(ctx); err != nil {
		_ = sqldb.Close()
		return nil, fmt.Errorf("storage: open sqlite %q: %w", name, err)
	}
	return bun.NewDB(sqldb, sqlitedialect.New()), nil
}

func sqliteParamSet(q url.Values, key, alias, pragma string) bool {
	if q.Has(key) || (alias != "" && q.Has(alias)) {
		return true
	}
	if pragma == "" {
		return false
	}
	for _, p := range q["_pragma"] {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), pragma) {
			return true
		}
	}
	return false
}

func isSQLiteMemory(name string, q url.Values) bool {
	return name == ":memory:" || name == "file::memory:" || q.Get("mode") == "memory"
}

// dsnSecrets returns the password of a PostgreSQL URL as it may appear in an
// error: decoded and as written. It does not rely on the URL being valid,
// because a malformed one is exactly what ends up in a parse error.
func dsnSecrets(dsn string) []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		out = append(out, s)
		if u, err := url.PathUnescape(s); err == nil && u != s {
			out = append(out, u)
		}
	}
	if _, rest, ok := strings.Cut(dsn, "://"); ok {
		// The host part never holds '@', so userinfo ends at the last one.
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
				add(pw)
			}
		}
	}
	if _, rawQuery, ok := strings.Cut(dsn, "?"); ok {
		for _, kv := range strings.Split(rawQuery, "&") {
			if k, v, _ := strings.Cut(kv, "="); k == "password" {
				add(v)
			}
		}
	}
	return out
}

// redactedError hides secrets in the text of an error but keeps the chain
// for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, secrets []string) error {
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}
