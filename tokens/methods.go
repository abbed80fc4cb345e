package tokens

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/read"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/readsql"
)

// readSpec declares the options of read. id and enabled filter by "=",
// name by "=" and "like"; created sorts only, as in users' read.
var readSpec = &read.Spec{
	Fields: []read.Field{
		{Name: "id", Column: "t.id", Type: read.ID, Conditions: []string{"="}, Sortable: true},
		{Name: "name", Column: "t.name", Conditions: []string{"=", "like"}, Sortable: true},
		{Name: "enabled", Column: "t.enabled", Type: read.Boolean, Conditions: []string{"="}, Sortable: true},
		{Name: "created", Column: "t.created", Type: read.Time, Sortable: true},
	},
	MaxLimit:     100,
	DefaultOrder: []read.Order{{Field: "id"}},
}

// record is a token as read answers it: never the token, never its digest.
// Permissions are the token's own grants, every declared permission true or
// false; what the token may do is these intersected with its owner's (see
// get-permissions).
type record struct {
	ID          int64           `json:"id,string"`
	Name        string          `json:"name"`
	Enabled     bool            `json:"enabled"`
	Permissions map[string]bool `json:"permissions"`
	Created     time.Time       `json:"created"`
}

// created is create's answer: the record with the plain token, the only
// time it is shown.
type created struct {
	ID          int64           `json:"id,string"`
	Name        string          `json:"name"`
	Token       string          `json:"token"`
	Enabled     bool            `json:"enabled"`
	Permissions map[string]bool `json:"permissions"`
	Created     time.Time       `json:"created"`
	// UserID and Username are the owner, under the names @softvisio/core
	// front ends read.
	UserID   int64  `json:"userId,string"`
	Username string `json:"username"`
}

func (m *Module) register() {
	mod := m.reg.Section(Prefix, "API access tokens")
	user := []string{auth.User}
	tokenID := rpc.Param{Name: "token_id"}
	mod.Register(rpc.Method{
		ID: "read", Title: "Read tokens", Description: "Answers the caller's own API tokens (never the token text), the total in `meta.total`.", Permissions: user,
		Params:   []rpc.Param{{Name: "options?", Read: readSpec}},
		Handler:  m.read,
		DataType: reflect.TypeFor[[]record](),
	})
	mod.Register(rpc.Method{
		ID: "create", Title: "Generate new token", Description: "Creates an API token named `name` and answers it with the token text, shown only in this answer. A new token holds no permissions until given some.", Permissions: user,
		Params:  []rpc.Param{{Name: "name"}},
		Handler: m.create,
		// The answer is the only copy of the token: a void call would lose it.
		NoVoid: true,
	})
	mod.Register(rpc.Method{
		ID: "delete", Title: "Remove token", Description: "Deletes one of the caller's API tokens; calls made with it stop at once.", Permissions: user,
		Params:  []rpc.Param{tokenID},
		Handler: m.delete,
	})
	mod.Register(rpc.Method{
		ID: "set-enabled", Title: "Set token enabled", Description: "Enables or disables one of the caller's API tokens; a disabled token authenticates nobody.", Permissions: user,
		Params:  []rpc.Param{tokenID, {Name: "enabled"}},
		Handler: m.setEnabled,
	})
	mod.Register(rpc.Method{
		ID: "get-permissions", Title: "Get token permissions", Description: "Answers every permission the caller holds with whether the token holds it. A token's effective permissions are the user's intersected with these.", Permissions: user,
		Params:  []rpc.Param{tokenID},
		Handler: m.getPermissions,
	})
	mod.Register(rpc.Method{
		ID: "set-permissions", Title: "Set token permissions", Description: "Replaces the token's permissions with those given (a map of name to true or false); only permissions the caller holds can be given.", Permissions: user,
		Params: []rpc.Param{tokenID, {Name: "permissions"}},
		Handler: func(ctx context.Context, tokenID string, perms map[string]bool) (rpc.Result, error) {
			return m.changePermissions(ctx, tokenID, perms, true)
		},
	})
	mod.Register(rpc.Method{
		ID: "update-permissions", Title: "Update token permissions", Description: "Changes only the token permissions named (a map of name to true or false) and keeps the others; only permissions the caller holds can be given.", Permissions: user,
		Params: []rpc.Param{tokenID, {Name: "permissions"}},
		Handler: func(ctx context.Context, tokenID string, perms map[string]bool) (rpc.Result, error) {
			return m.changePermissions(ctx, tokenID, perms, false)
		},
	})
}

// requireSession refuses changes made with an API token. A token that could
// mint tokens would outlive its own revocation (the leaked token makes a
// fresh one before it is disabled), and one that could change token
// permissions could raise its own up to its owner's. Reads stay open.
func requireSession(p *auth.Principal) *rpc.Error {
	if p.Kind == auth.KindAPIToken {
		return rpc.Forbidden("API tokens cannot create or change API tokens: sign in with a password and use the session")
	}
	return nil
}

// read lists the caller's tokens with meta.total.
func (m *Module) read(ctx context.Context, opts read.Options) (rpc.Result, error) {
	caller := auth.FromContext(ctx)
	var rows []tokenRow
	q := m.db.NewSelect().Model(&rows).ModelTableExpr(m.table).ExcludeColumn("digest").Where("t.user_id = ?", caller.UserID)
	// id last, so that pages sorted by a column with ties are stable.
	if err := readsql.Apply(q, opts).OrderExpr("t.id ASC").Scan(ctx); err != nil {
		return rpc.Result{}, fmt.Errorf("tokens: read: %w", err)
	}
	total, err := readsql.ApplyWhere(m.db.NewSelect().Model((*tokenRow)(nil)).ModelTableExpr(m.table).Where("t.user_id = ?", caller.UserID), opts).Count(ctx)
	if err != nil {
		return rpc.Result{}, fmt.Errorf("tokens: read: count: %w", err)
	}
	out := make([]record, len(rows))
	for i := range rows {
		out[i] = m.record(&rows[i])
	}
	return rpc.ReadPage(opts, out, int(total))
}

func (m *Module) record(row *tokenRow) record {
	return record{
		ID:          row.ID,
		Name:        row.Name,
		Enabled:     row.Enabled,
		Permissions: m.grantsView(row.Permissions),
		Created:     row.Created.UTC(),
	}
}

// create makes an enabled token holding no permissions and answers it with
// the plain token, which is stored only as its digest.
func (m *Module) create(ctx context.Context, name string) (created, error) {
	caller := auth.FromContext(ctx)
	if rerr := m.checkSession(ctx, caller, "tokens.create", 0); rerr != nil {
		return created{}, rerr
	}
	name, rerr := checkName(name)
	if rerr != nil {
		return created{}, rerr
	}
	plain, digest, err := auth.NewToken(auth.KindAPIToken)
	if err != nil {
		return created{}, fmt.Errorf("tokens: create: %w", err)
	}
	row := &tokenRow{
		UserID:      caller.UserID,
		Name:        name,
		Digest:      digest,
		Enabled:     true,
		Permissions: map[string]bool{},
		Created:     stamp(),
	}
	err = m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if m.maxPerUser > 0 {
			if err := m.lockUser(ctx, tx, caller.UserID); err != nil {
				return err
			}
			n, err := tx.NewSelect().Model((*tokenRow)(nil)).ModelTableExpr(m.table).Where("t.user_id = ?", caller.UserID).Count(ctx)
			if err != nil {
				return fmt.Errorf("tokens: create: count: %w", err)
			}
			if n >= int64(m.maxPerUser) {
				return rpc.BadRequest("you hold %d API tokens, the most allowed: delete one first", n)
			}
		}
		if _, err := tx.NewInsert().Model(row).ModelTableExpr(m.table).Returning("id").Exec(ctx); err != nil {
			return err
		}
		return m.audited(ctx, tx, "tokens.create", row.ID, map[string]any{"name": row.Name, "user_id": strconv.FormatInt(caller.UserID, 10)})
	})
	var rpcErr *rpc.Error
	switch {
	case err == nil:
	case errors.As(err, &rpcErr):
		return created{}, rpcErr
	case storage.IsUniqueViolation(err):
		return created{}, rpc.Conflict("you already have a token named %s", rpc.Quote(name))
	case storage.IsForeignKeyViolation(err):
		// The caller was deleted after it authenticated.
		return created{}, rpc.Unauthorized("Not authenticated")
	default:
		return created{}, fmt.Errorf("tokens: create: %w", err)
	}
	return created{
		ID:          row.ID,
		Name:        row.Name,
		Token:       plain,
		Enabled:     row.Enabled,
		Permissions: m.grantsView(row.Permissions),
		Created:     row.Created,
		UserID:      caller.UserID,
		Username:    caller.Username,
	}, nil
}

// delete removes one of the caller's tokens.
func (m *Module) delete(ctx context.Context, tokenID string) error {
	caller := auth.FromContext(ctx)
	id, rerr := parseID(tokenID)
	if rerr != nil {
		return rerr
	}
	if rerr := m.checkSession(ctx, caller, "tokens.delete", id); rerr != nil {
		return rerr
	}
	err := m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var name string
		err := tx.NewDelete().Model((*tokenRow)(nil)).ModelTableExpr(m.table).
			Where("id = ? AND user_id = ?", id, caller.UserID).
			Returning("name").
			Scan(ctx, &name)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound(id)
		}
		if err != nil {
			return fmt.Errorf("tokens: delete token %d: %w", id, err)
		}
		return m.audited(ctx, tx, "tokens.delete", id, map[string]any{"name": name})
	})
	var rpcErr *rpc.Error
	if errors.As(err, &rpcErr) {
		return rpcErr
	}
	if err != nil {
		return err
	}
	m.invalidate(id)
	return nil
}

// setEnabled enables or disables one of the caller's tokens; 204 when it
// already was so.
func (m *Module) setEnabled(ctx context.Context, tokenID string, enabled bool) (rpc.Result, error) {
	caller := auth.FromContext(ctx)
	id, rerr := parseID(tokenID)
	if rerr != nil {
		return rpc.Result{}, rerr
	}
	action := "tokens.disable"
	if enabled {
		action = "tokens.enable"
	}
	if rerr := m.checkSession(ctx, caller, action, id); rerr != nil {
		return rpc.Result{}, rerr
	}
	var changed bool
	err := m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*tokenRow)(nil)).ModelTableExpr(m.table).
			Set("enabled = ?", enabled).
			Where("id = ? AND user_id = ? AND enabled <> ?", id, caller.UserID, enabled).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("tokens: set enabled of token %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		changed = true
		return m.audited(ctx, tx, action, id, map[string]any{"enabled": enabled})
	})
	if err != nil {
		return rpc.Result{}, err
	}
	if changed {
		m.invalidate(id)
		return rpc.Result{}, nil
	}
	ok, err := m.exists(ctx, m.db, caller.UserID, id)
	if err != nil {
		return rpc.Result{}, err
	}
	if !ok {
		return rpc.Result{}, notFound(id)
	}
	return rpc.NoContent(), nil
}
