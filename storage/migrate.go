package storage

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Migration is one step of a module's schema. Versions are positive and
// unique within a module; a migration, once released, never changes.
type Migration struct {
	Version int
	Name    string
	Up      func(ctx context.Context, tx bun.Tx) error
}

// SQL returns an Up function that runs the postgres or the sqlite text,
// whichever matches the database. A text may hold several statements
// separated by ';' (both drivers run them in one call when there are no
// arguments); an empty text does nothing, for a change only one database
// needs. The text is not formatted by bun, so '?' is passed through as is.
//
// Statements that refuse to run inside a transaction (such as CREATE INDEX
// CONCURRENTLY or VACUUM) do not belong in a migration.
func SQL(postgres, sqlite string) func(ctx context.Context, tx bun.Tx) error {
	return func(ctx context.Context, tx bun.Tx) error {
		query := sqlite
		if IsPostgres(tx) {
			query = postgres
		}
		if strings.TrimSpace(query) == "" {
			return nil
		}
		// No arguments: bun passes the text through unchanged and pgx uses
		// the simple protocol, which allows several statements.
		_, err := tx.ExecContext(ctx, query)
		return err
	}
}

// migrationsLock is the PostgreSQL advisory lock key that serializes all
// migrations of all modules under every table prefix, across processes: a
// module's migrations may reference another's tables.
const migrationsLock = "SELECT pg_advisory_xact_lock(hashtext('authrpc_migrations'))"

// migrationsTable is the name of Migrate's table, after the table prefix.
const migrationsTable = "authrpc_migrations"

const (
	createTablePostgres = `CREATE TABLE IF NOT EXISTS {prefix}authrpc_migrations (
	module     TEXT        NOT NULL,
	version    INTEGER     NOT NULL,
	name       TEXT        NOT NULL,
	applied_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (module, version)
)`
	createTableSQLite = `CREATE TABLE IF NOT EXISTS {prefix}authrpc_migrations (
	module     TEXT      NOT NULL,
	version    INTEGER   NOT NULL,
	name       TEXT      NOT NULL,
	applied_at TIMESTAMP NOT NULL,
	PRIMARY KEY (module, version)
)`
)

// Migrate applies, in version order, the migrations of module that are not
// yet recorded in the table authrpc_migrations (which it creates; with
// WithTablePrefix, that name after the prefix). Each
// migration runs in a transaction of its own together with its record, so a
// failing one leaves nothing behind and stops Migrate; the ones before it
// stay applied.
//
// It is meant to run on every start, from any number of processes at once:
// on PostgreSQL each transaction holds a transaction-scoped advisory lock,
// on SQLite the transaction holds the write lock from BEGIN (db must come
// from Open, which sets that up), and under that lock Migrate checks again
// whether another process has applied the migration meanwhile. When all are
// applied, it only reads.
//
// Each applied migration is logged at level Info to the logger of
// WithLogger (default slog.Default()); options other than WithLogger and
// WithTablePrefix are ignored.
func Migrate(ctx context.Context, db *bun.DB, module string, migrations []Migration, opts ...Option) error {
	cfg := newConfig(opts)
	if module == "" {
		return errors.New("storage: migrate: empty module name")
	}
	if err := CheckTablePrefix(cfg.tablePrefix); err != nil {
		return fmt.Errorf("storage: migrate %s: %w", module, err)
	}
	table := cfg.tablePrefix + migrationsTable
	sorted := slices.Clone(migrations)
	slices.SortFunc(sorted, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	for i, m := range sorted {
		switch {
		case m.Version <= 0:
			return fmt.Errorf("storage: migrate %s %d: version must be positive", module, m.Version)
		case i > 0 && sorted[i-1].Version == m.Version:
			return fmt.Errorf("storage: migrate %s %d: duplicate version", module, m.Version)
		case m.Up == nil:
			return fmt.Errorf("storage: migrate %s %d: Up is nil", module, m.Version)
		}
	}

	if err := createMigrationsTable(ctx, db, cfg.tablePrefix); err != nil {
		return fmt.Errorf("storage: migrate %s: %w", module, err)
	}

	var applied []int
	err := db.NewSelect().
		Table(table).
		Column("version").
		Where("module = ?", module).
		Scan(ctx, &applied)
	if err != nil {
		return fmt.Errorf("storage: migrate %s: read applied versions: %w", module, err)
	}

	for _, m := range sorted {
		if slices.Contains(applied, m.Version) {
			continue
		}
		start := time.Now()
		done, err := applyMigration(ctx, db, table, module, m)
		if err != nil {
			return fmt.Errorf("storage: migrate %s %d (%s): %w", module, m.Version, m.Name, err)
		}
		if done {
			cfg.logger.InfoContext(ctx, "storage: applied migration",
				"module", module, "version", m.Version, "name", m.Name, "table", table,
				"duration", time.Since(start))
		}
	}
	return nil
}

// txOptions pins PostgreSQL transactions to READ COMMITTED whatever the
// server's default: the re-check after taking the lock must see what the
// previous holder committed, which a snapshot taken before the lock would
// not.
func txOptions(db bun.IDB) *sql.TxOptions {
	if IsPostgres(db) {
		return &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return nil
}

func createMigrationsTable(ctx context.Context, db *bun.DB, prefix string) error {
	return db.RunInTx(ctx, txOptions(db), func(ctx context.Context, tx bun.Tx) error {
		query := createTableSQLite
		if IsPostgres(tx) {
			// Concurrent CREATE TABLE IF NOT EXISTS can still collide in
			// PostgreSQL's catalog; the lock rules that out.
			if _, err := tx.ExecContext(ctx, migrationsLock); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			query = createTablePostgres
		}
		if _, err := tx.ExecContext(ctx, Prefixed(prefix, query)); err != nil {
			return fmt.Errorf("create table %s: %w", prefix+migrationsTable, err)
		}
		return nil
	})
}

// applyMigration runs m and records it in table, unless another process has
// done so first; it reports whether it ran m.
func applyMigration(ctx context.Context, db *bun.DB, table, module string, m Migration) (bool, error) {
	var ran bool
	err := db.RunInTx(ctx, txOptions(db), func(ctx context.Context, tx bun.Tx) error {
		if IsPostgres(tx) {
			if _, err := tx.ExecContext(ctx, migrationsLock); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		exists, err := tx.NewSelect().
			Table(table).
			Where("module = ? AND version = ?", module, m.Version).
			Exists(ctx)
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		if exists {
			return nil
		}
		if err := m.Up(ctx, tx); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			"INSERT INTO "+table+" (module, version, name, applied_at) VALUES (?, ?, ?, ?)",
			module, m.Version, m.Name, time.Now().UTC())
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		ran = true
		return nil
	})
	return ran && err == nil, err
}
