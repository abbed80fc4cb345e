package tokens

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/users"
)

// Prefix is the path under which the module's methods are registered.
const Prefix = "/v1/api-tokens"

// DefaultMaxPerUser is how many API tokens a user may hold by default.
const DefaultMaxPerUser = 100

// Options configure the module. The zero value is valid; every field
// documents its default.
type Options struct {
	// MaxPerUser bounds the tokens one user may hold, so that a user cannot
	// fill the table; create answers 400 past it. Default
	// DefaultMaxPerUser (100). A negative value turns the bound off.
	MaxPerUser int

	// There is no table prefix here: the table api_tokens, which
	// references the users table, takes the users module's
	// (users.Options.TablePrefix), and so does the record of its
	// migrations. A prefix of its own could only ever be set wrong.
}

// Module is the mounted API tokens module. It has no background work, so
// there is nothing to close.
type Module struct {
	reg        *rpc.Registry
	db         *bun.DB
	table      string // api_tokens after the users module's prefix, AS t (tokenRow's alias)
	lockKey    string // names lockUser's advisory locks
	users      *users.Module
	perms      *auth.Permissions
	maxPerUser int // 0: no bound
}

// Mount runs the module's migrations (after the users module's: api_tokens
// references users, and takes its table prefix), registers the
// /v1/api-tokens methods on reg and the authenticator of API tokens
// ("tok_…") on reg.Auth(), and has u delete a user's tokens when the user's
// password is reset. u is the users
// module mounted on the same registry and database: tokens belong to its
// users, and a token's permissions are bounded by its owner's.
func Mount(ctx context.Context, reg *rpc.Registry, db *bun.DB, u *users.Module, opts Options) (*Module, error) {
	if reg == nil || db == nil || u == nil {
		return nil, errors.New("tokens: mount: the registry, the database and the users module are required")
	}
	m := &Module{
		reg:        reg,
		db:         db,
		table:      u.TablePrefix() + "api_tokens AS t",
		lockKey:    u.TablePrefix() + "authrpc_api_tokens",
		users:      u,
		perms:      reg.Permissions(),
		maxPerUser: opts.MaxPerUser,
	}
	switch {
	case m.maxPerUser == 0:
		m.maxPerUser = DefaultMaxPerUser
	case m.maxPerUser < 0:
		m.maxPerUser = 0
	}
	if err := storage.Migrate(ctx, db, "tokens", migrations(u.TablePrefix()),
		storage.WithLogger(reg.Logger()), storage.WithTablePrefix(u.TablePrefix())); err != nil {
		return nil, fmt.Errorf("tokens: mount: %w", err)
	}
	m.register()
	reg.Auth().Handle(auth.KindAPIToken, auth.AuthenticatorFunc(m.authenticate))
	u.OnCredentialsReset(m.endTokens)
	reg.OnShutdown(m.Close)
	return m, nil
}

// Close stops nothing: the module runs no background work. It is there so
// that every module stops alike; Mount hands it to reg.OnShutdown.
func (m *Module) Close(ctx context.Context) error { return nil }

// endTokens deletes a user's API tokens when the user's password is reset
// (users.Module.OnCredentialsReset): recovering an account must end what an
// attacker could hold. It runs in the users module's transaction, which
// drops the user's cached callers, tokens included, after it commits.
func (m *Module) endTokens(ctx context.Context, tx bun.Tx, r users.CredentialsReset) error {
	if _, err := tx.NewDelete().Model((*tokenRow)(nil)).ModelTableExpr(m.table).Where("user_id = ?", r.UserID).Exec(ctx); err != nil {
		return fmt.Errorf("tokens: delete tokens of user %d: %w", r.UserID, err)
	}
	return nil
}

// invalidate drops the cached caller of one token: call it after a change
// to the token has committed, so that its next call sees the change.
func (m *Module) invalidate(id int64) {
	m.reg.Auth().Invalidate(auth.Invalidation{Kind: auth.KindAPIToken, TokenID: id})
}

// stamp is the time to store: UTC, to the microsecond both databases keep,
// so that create's answer matches what a later read returns.
func stamp() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond)
}
