package users

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/storage"
)

// preparedReads are the hot reads of the users table (a user by id:
// Lookup, the admin methods naming a user, the caller's own record when
// the userCache has not kept it) prepared once, on SQLite: modernc's
// driver parses a statement on every query otherwise, which cost more than
// running it. PostgreSQL needs none, as pgx caches each statement it
// prepares per connection. A prepared statement runs past bun's query
// hooks, so a module told that db has hooks (Options.QueryHooks) reads
// unprepared, as it runs every other query. The zero value prepares on
// first use; a failed prepare is tried again on the next.
type preparedReads struct {
	off    bool // Options.QueryHooks: never prepare
	mu     sync.Mutex
	byID   *sql.Stmt
	closed bool
}

// userByID returns the statement selecting one user row by id (the
// columns and order of selectUser's), or nil where none is prepared: on
// PostgreSQL, with Options.QueryHooks, after close, or when preparing
// failed.
func (m *Module) userByID(ctx context.Context) *sql.Stmt {
	p := &m.reads
	if p.off {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byID != nil || p.closed || storage.IsPostgres(m.db) {
		return p.byID
	}
	query := m.tables.selectUser(m.db, new(userRow), false).Where("id = ?", bun.Safe("?")).String()
	stmt, err := m.db.DB.PrepareContext(ctx, query)
	if err != nil {
		m.log.WarnContext(ctx, "users: prepare the read of a user; reading unprepared", "err", err)
		return nil
	}
	p.byID = stmt
	return stmt
}

// findByIDPrepared is findByID outside a transaction, with the prepared
// statement when there is one. ok is false when there is none.
func (m *Module) findByIDPrepared(ctx context.Context, id int64) (row *userRow, ok bool, err error) {
	stmt := m.userByID(ctx)
	if stmt == nil {
		return nil, false, nil
	}
	rows, err := stmt.QueryContext(ctx, id)
	if err != nil {
		return nil, true, fmt.Errorf("users: find user %d: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, true, fmt.Errorf("users: find user %d: %w", id, err)
		}
		return nil, true, nil
	}
	row = new(userRow)
	if err := m.db.ScanRow(ctx, rows, row); err != nil {
		return nil, true, fmt.Errorf("users: find user %d: %w", id, err)
	}
	return row, true, rows.Close()
}

// close releases the prepared statements; reads go unprepared afterwards.
func (p *preparedReads) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.byID == nil {
		return nil
	}
	err := p.byID.Close()
	p.byID = nil
	return err
}
