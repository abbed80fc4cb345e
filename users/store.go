package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/storage"
)

// userRow is a row of the users table.
type userRow struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID             int64           `bun:"id,pk,autoincrement"`
	Name           string          `bun:"name,notnull"`
	Email          string          `bun:"email,nullzero"`
	EmailConfirmed bool            `bun:"email_confirmed,notnull"`
	TelegramName   string          `bun:"telegram_name,nullzero"`
	Enabled        bool            `bun:"enabled,notnull"`
	Permissions    map[string]bool `bun:"permissions,notnull"`
	PasswordHash   string          `bun:"password_hash,notnull"`
	Created        time.Time       `bun:"created,notnull"`
	// SigninAddrs are the address keys the user last signed in from.
	SigninAddrs addrList `bun:"signin_addrs,notnull"`
	// SigninDevices are the devices with networks (address key, device,
	// browser, OS) the user last signed in from, newest first: a sign-in
	// from another is mailed to the user.
	SigninDevices addrList `bun:"signin_devices,notnull"`
}

func (r *userRow) user() *User {
	perms := make(map[string]bool, len(r.Permissions))
	for name, on := range r.Permissions {
		if on {
			perms[name] = true
		}
	}
	return &User{
		ID:             r.ID,
		Name:           r.Name,
		Email:          r.Email,
		EmailConfirmed: r.EmailConfirmed,
		TelegramName:   r.TelegramName,
		Enabled:        r.Enabled,
		Permissions:    perms,
		Created:        r.Created.UTC(),
	}
}

// sessionRow is a row of the user_sessions table.
type sessionRow struct {
	bun.BaseModel `bun:"table:user_sessions,alias:s"`

	ID      int64     `bun:"id,pk,autoincrement"`
	UserID  int64     `bun:"user_id,notnull"`
	Digest  []byte    `bun:"digest,notnull"`
	Created time.Time `bun:"created,notnull"`
	Expires time.Time `bun:"expires,notnull"`
	// Written at most once a minute while the session calls (activity.go).
	LastActivity time.Time `bun:"last_activity,notnull"`
	// The client address and user agent of the sign-in, and what the
	// user agent says (useragent.go).
	RemoteAddress string `bun:"remote_address,notnull"`
	UserAgent     string `bun:"user_agent,notnull"`
	Device        string `bun:"device,notnull"`
	Browser       string `bun:"browser,notnull"`
	OS            string `bun:"os,notnull"`
	// Authorized is when the session last passed /v1/session/authorize.
	Authorized time.Time `bun:"authorized,nullzero"`
}

// selectUser starts a query for one user row, locked for update when asked
// (PostgreSQL; SQLite's transactions hold the write lock from BEGIN).
func (t tables) selectUser(db bun.IDB, row *userRow, forUpdate bool) *bun.SelectQuery {
	q := db.NewSelect().Model(row).ModelTableExpr(t.users)
	if forUpdate && storage.IsPostgres(db) {
		q = q.For("UPDATE")
	}
	return q
}

// findByID returns the user with the given id, or nil.
func (m *Module) findByID(ctx context.Context, db bun.IDB, id int64, forUpdate bool) (*userRow, error) {
	if db == bun.IDB(m.db) && !forUpdate {
		if row, ok, err := m.findByIDPrepared(ctx, id); ok {
			return row, err
		}
	}
	row := new(userRow)
	err := m.tables.selectUser(db, row, forUpdate).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("users: find user %d: %w", id, err)
	}
	return row, nil
}

// findByName returns the user with the given (normalized) name, or nil.
func (m *Module) findByName(ctx context.Context, db bun.IDB, name string, forUpdate bool) (*userRow, error) {
	row := new(userRow)
	err := m.tables.selectUser(db, row, forUpdate).Where("name = ?", name).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("users: find user by name: %w", err)
	}
	return row, nil
}

// findByEmail returns the user with the given (normalized) email, or nil.
func (m *Module) findByEmail(ctx context.Context, db bun.IDB, email string, forUpdate bool) (*userRow, error) {
	row := new(userRow)
	err := m.tables.selectUser(db, row, forUpdate).Where("email = ?", email).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("users: find user by email: %w", err)
	}
	return row, nil
}

// taken says which of a name, email and telegram name (normalized; empty
// ones are skipped) another user than except already has: "name", "email",
// "telegram_name" or "" when none. It gives 409s a precise message; the
// UNIQUE constraints still decide races.
func (m *Module) taken(ctx context.Context, db bun.IDB, except int64, name, email, telegram string) (string, error) {
	var rows []userRow
	q := db.NewSelect().Model(&rows).ModelTableExpr(m.tables.users).Column("name", "email", "telegram_name").
		Where("id <> ?", except).
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			q = q.Where("1 = 0")
			if name != "" {
				q = q.WhereOr("name = ?", name)
			}
			if email != "" {
				q = q.WhereOr("email = ?", email)
			}
			if telegram != "" {
				q = q.WhereOr("telegram_name = ?", telegram)
			}
			return q
		}).Limit(3)
	if err := q.Scan(ctx); err != nil {
		return "", fmt.Errorf("users: check uniqueness: %w", err)
	}
	for _, r := range rows {
		switch {
		case name != "" && r.Name == name:
			return "name", nil
		case email != "" && r.Email == email:
			return "email", nil
		case telegram != "" && r.TelegramName == telegram:
			return "telegram_name", nil
		}
	}
	return "", nil
}

// deleteSessions deletes the sessions of a user, but the one with id keep
// (0 keeps none), and returns how many it deleted.
func (t tables) deleteSessions(ctx context.Context, db bun.IDB, userID, keep int64) (int64, error) {
	q := db.NewDelete().Model((*sessionRow)(nil)).ModelTableExpr(t.sessions).Where("user_id = ?", userID)
	if keep != 0 {
		q = q.Where("id <> ?", keep)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("users: delete sessions of user %d: %w", userID, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

func (m *Module) deleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := m.db.NewDelete().Model((*sessionRow)(nil)).ModelTableExpr(m.tables.sessions).Where("expires <= ?", m.now().UTC()).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("users: delete expired sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// sessionEnded forgets a session that was deleted, and drops it from the
// caches and closes its sockets on every instance: only its own.
func (m *Module) sessionEnded(userID, id int64) {
	m.activity.forget(id)
	m.reg.Auth().Invalidate(auth.Invalidation{UserID: userID, Kind: auth.KindSession, TokenID: id})
}

// invalidateUser drops every cached principal of a user and closes its
// sockets: call it after a change that ends or narrows what the user's
// credentials may do has committed.
func (m *Module) invalidateUser(id int64) {
	m.reg.Auth().Invalidate(auth.Invalidation{UserID: id})
}
