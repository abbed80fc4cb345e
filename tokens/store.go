package tokens

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
)

// tokenRow is a row of the api_tokens table. Its queries name the table
// with ModelTableExpr(m.table), which carries the table prefix.
type tokenRow struct {
	bun.BaseModel `bun:"table:api_tokens,alias:t"`

	ID          int64           `bun:"id,pk,autoincrement"`
	UserID      int64           `bun:"user_id,notnull"`
	Name        string          `bun:"name,notnull"`
	Digest      []byte          `bun:"digest,notnull"`
	Enabled     bool            `bun:"enabled,notnull"`
	Permissions map[string]bool `bun:"permissions,notnull"`
	Created     time.Time       `bun:"created,notnull"`
}

// notFound is the answer for a token id that names no token of the caller:
// the same whether it names nobody's or another user's, so that ids of other
// users' tokens cannot be probed.
func notFound(id int64) *rpc.Error {
	return rpc.NotFound("token %q not found", strconv.FormatInt(id, 10))
}

// find returns the caller's token with the given id (never its digest),
// locked for update when asked (PostgreSQL; SQLite's transactions hold the
// write lock from BEGIN), or answers 404.
func (m *Module) find(ctx context.Context, db bun.IDB, userID, id int64, forUpdate bool) (*tokenRow, error) {
	row := new(tokenRow)
	q := db.NewSelect().Model(row).ModelTableExpr(m.table).ExcludeColumn("digest").
		Where("t.id = ? AND t.user_id = ?", id, userID)
	if forUpdate && storage.IsPostgres(db) {
		q = q.For("UPDATE")
	}
	err := q.Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("tokens: find token %d: %w", id, err)
	}
	return row, nil
}

// exists reports whether the caller has a token with the given id.
func (m *Module) exists(ctx context.Context, db bun.IDB, userID, id int64) (bool, error) {
	ok, err := db.NewSelect().Model((*tokenRow)(nil)).ModelTableExpr(m.table).
		Where("t.id = ? AND t.user_id = ?", id, userID).
		Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("tokens: find token %d: %w", id, err)
	}
	return ok, nil
}

// lockUser serializes the token creations of one user on PostgreSQL, so
// that the per-user bound holds under concurrent creates. SQLite's write
// transactions are serialized already. The key is a transaction-scoped
// advisory lock (hash of the prefixed table's name, user id); ids past 2^31
// wrap, which only makes two users share a lock now and then.
func (m *Module) lockUser(ctx context.Context, tx bun.Tx, userID int64) error {
	if !storage.IsPostgres(tx) {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext(?), ?)", m.lockKey, int32(userID))
	if err != nil {
		return fmt.Errorf("tokens: lock user %d: %w", userID, err)
	}
	return nil
}
