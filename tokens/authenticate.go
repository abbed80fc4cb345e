package tokens

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/users"
)

// authenticate resolves an API token: the Authenticator for KindAPIToken.
// The token must exist and be enabled, and its owner must exist and be
// enabled; the caller's permissions are the owner's intersected with the
// token's own. The Mux caches the answer under the owner's user id and the
// token's id, so users' invalidations (a disabled or deleted owner, changed
// permissions) drop it as they drop the owner's sessions, and this module's
// drop it after a change to the token.
func (m *Module) authenticate(ctx context.Context, token string) (*auth.Principal, error) {
	var row tokenRow
	err := m.db.NewSelect().Model(&row).ModelTableExpr(m.table).
		Column("id", "user_id", "enabled", "permissions").
		Where("t.digest = ?", auth.Digest(token)).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, auth.ErrUnknownToken
	}
	if err != nil {
		return nil, fmt.Errorf("tokens: authenticate: %w", err)
	}
	if !row.Enabled {
		return nil, auth.ErrUnknownToken
	}
	owner, err := m.users.Lookup(ctx, row.UserID)
	if errors.Is(err, users.ErrNotFound) {
		return nil, auth.ErrUnknownToken
	}
	if err != nil {
		return nil, fmt.Errorf("tokens: authenticate: token %d: %w", row.ID, err)
	}
	if !owner.Enabled {
		return nil, auth.ErrUnknownToken
	}
	return &auth.Principal{
		UserID:      owner.ID,
		Username:    owner.Name,
		Kind:        auth.KindAPIToken,
		TokenID:     row.ID,
		Permissions: effective(m.users.Permissions(owner), row.Permissions),
	}, nil
}
