package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
)

// authenticate resolves a session token: the Authenticator for KindSession.
// A session that is unknown or expired, or whose user is disabled, does not
// authenticate; the Mux caches the answer until ExpiresAt or an Invalidate.
func (m *Module) authenticate(ctx context.Context, token string) (*auth.Principal, error) {
	var r struct {
		SessionID   int64           `bun:"session_id"`
		Expires     time.Time       `bun:"expires"`
		Authorized  bun.NullTime    `bun:"authorized"`
		UserID      int64           `bun:"user_id"`
		Name        string          `bun:"name"`
		Enabled     bool            `bun:"enabled"`
		Permissions map[string]bool `bun:"permissions"`
	}
	err := m.db.NewSelect().
		TableExpr(m.tables.sessions).
		Join("JOIN "+m.tables.users+" ON u.id = s.user_id").
		ColumnExpr("s.id AS session_id, s.expires, s.authorized, u.id AS user_id, u.name, u.enabled, u.permissions").
		Where("s.digest = ?", auth.Digest(token)).
		Scan(ctx, &r)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, auth.ErrUnknownToken
	}
	if err != nil {
		return nil, fmt.Errorf("users: authenticate session: %w", err)
	}
	if !r.Enabled || !m.now().Before(r.Expires) {
		return nil, auth.ErrUnknownToken
	}
	row := &userRow{ID: r.UserID, Name: r.Name, Enabled: r.Enabled, Permissions: r.Permissions}
	p := m.principal(row, r.SessionID, r.Expires.UTC())
	if !r.Authorized.IsZero() {
		p.AuthorizedAt = r.Authorized.UTC()
	}
	if err := m.confine(ctx, row, p); err != nil {
		return nil, fmt.Errorf("users: authenticate session: %w", err)
	}
	return p, nil
}

// principal is the caller a session of row stands for.
func (m *Module) principal(row *userRow, sessionID int64, expires time.Time) *auth.Principal {
	perms := m.perms.All()
	if row.ID != auth.RootUserID {
		perms = m.declaredOnly(row.Permissions)
	}
	return &auth.Principal{
		UserID:      row.ID,
		Username:    row.Name,
		Kind:        auth.KindSession,
		TokenID:     sessionID,
		Permissions: perms,
		ExpiresAt:   expires,
	}
}
