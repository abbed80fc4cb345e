package settings

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
)

// The settings are stored as one row per key, the value as JSON. An update
// writes only the keys it sets, so two updates of different keys cannot
// undo each other; host fields come and go without migrations; and a key
// that no code knows any more is left alone.
//
// {prefix} stands for Options.TablePrefix (see storage.Prefixed).
func migrations(prefix string) []storage.Migration {
	return []storage.Migration{
		{Version: 1, Name: "create authrpc_settings", Up: storage.SQL(
			storage.Prefixed(prefix, `CREATE TABLE {prefix}authrpc_settings (
	name       TEXT        PRIMARY KEY,
	value      TEXT        NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
)`),
			storage.Prefixed(prefix, `CREATE TABLE {prefix}authrpc_settings (
	name       TEXT      PRIMARY KEY,
	value      TEXT      NOT NULL,
	updated_at TIMESTAMP NOT NULL
)`),
		)},
	}
}

// row is a stored setting. Its queries name the table with
// ModelTableExpr(m.table), which carries the table prefix.
type row struct {
	bun.BaseModel `bun:"table:authrpc_settings,alias:s"`

	Name      string    `bun:"name,pk"`
	Value     string    `bun:"value,notnull"`
	UpdatedAt time.Time `bun:"updated_at,notnull"`
}

func (m *Module) readRows(ctx context.Context, db bun.IDB) (map[string]json.RawMessage, error) {
	var rows []row
	if err := db.NewSelect().Model(&rows).ModelTableExpr(m.table).Column("name", "value").Scan(ctx); err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	out := make(map[string]json.RawMessage, len(rows))
	for _, r := range rows {
		out[r.Name] = json.RawMessage(r.Value)
	}
	return out, nil
}

// write runs fn in a transaction that no other write of the settings runs
// beside (an exclusive table lock on PostgreSQL, the write lock taken at
// BEGIN on SQLite), so fn may decide on what it reads. fn returns the
// values to store; write stores them and answers all stored rows.
//
// record, unless nil, runs after the values are stored, in the same
// transaction: the audit trail's entry.
func (m *Module) write(ctx context.Context, fn func(stored map[string]json.RawMessage) (map[string]json.RawMessage, error), record func(ctx context.Context, tx bun.Tx) error) (map[string]json.RawMessage, error) {
	db := m.db
	var after map[string]json.RawMessage
	var opts *sql.TxOptions
	if storage.IsPostgres(db) {
		// Statements after the lock must see what the writer before committed.
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	err := db.RunInTx(ctx, opts, func(ctx context.Context, tx bun.Tx) error {
		if storage.IsPostgres(tx) {
			// Readers go on; writers of other processes wait.
			if _, err := tx.ExecContext(ctx, "LOCK TABLE "+m.opts.TablePrefix+"authrpc_settings IN SHARE ROW EXCLUSIVE MODE"); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		stored, err := m.readRows(ctx, tx)
		if err != nil {
			return err
		}
		values, err := fn(stored)
		if err != nil {
			return err
		}
		if len(values) > 0 {
			now := time.Now().UTC()
			rows := make([]row, 0, len(values))
			for _, k := range slices.Sorted(maps.Keys(values)) {
				rows = append(rows, row{Name: k, Value: string(values[k]), UpdatedAt: now})
				stored[k] = values[k]
			}
			_, err := tx.NewInsert().Model(&rows).ModelTableExpr(m.table).
				On("CONFLICT (name) DO UPDATE").
				Set("value = EXCLUDED.value").
				Set("updated_at = EXCLUDED.updated_at").
				Exec(ctx)
			if err != nil {
				return fmt.Errorf("store settings: %w", err)
			}
		}
		if record != nil {
			if err := record(ctx, tx); err != nil {
				return err
			}
		}
		after = stored
		return nil
	})
	if err != nil {
		return nil, err
	}
	return after, nil
}
