package users

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"

	"github.com/invopop/jsonschema"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/read"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/readsql"
)

// maxSuggestions bounds the names suggest answers.
const maxSuggestions = 100

// readSpec declares the options of /v1/admin/users/read, as the API v1
// reference does.
var readSpec = &read.Spec{
	Fields: []read.Field{
		{Name: "id", Type: read.ID, Conditions: []string{"="}, Sortable: true},
		{Name: "search", Columns: []string{"name", "email", "telegram_name"}, Conditions: []string{"like"}},
		{Name: "name", Sortable: true},
		{Name: "created", Type: read.Time, Sortable: true},
		{Name: "enabled", Type: read.Boolean, Sortable: true},
	},
	MaxLimit:     100,
	DefaultOrder: []read.Order{{Field: "id"}},
}

// createFields is the parameter of create.
type createFields struct {
	Username     string          `json:"username"`
	Password     *string         `json:"password,omitempty"`
	Enabled      *bool           `json:"enabled,omitempty"`
	Permissions  map[string]bool `json:"permissions,omitempty"`
	Email        *string         `json:"email,omitempty"`
	TelegramName *string         `json:"telegram_name,omitempty"`
}

// suggestOptions is the parameter of suggest: {"where": {"name": ["like", "bo"]}}.
type suggestOptions struct {
	Where *struct {
		Name *[2]string `json:"name,omitempty"`
	} `json:"where,omitempty"`
}

// suggestSchema is the API v1 reference's schema of suggest's options, made
// strict.
var suggestSchema = func() *jsonschema.Schema {
	like := &jsonschema.Schema{
		Type: "array",
		PrefixItems: []*jsonschema.Schema{
			{Type: "string", Enum: []any{"like"}},
			{Type: "string"},
		},
		Items:    jsonschema.FalseSchema,
		MinItems: ptr(uint64(2)),
	}
	where := &jsonschema.Schema{Type: "object", Properties: jsonschema.NewProperties(), AdditionalProperties: jsonschema.FalseSchema}
	where.Properties.Set("name", like)
	s := &jsonschema.Schema{Type: "object", Properties: jsonschema.NewProperties(), AdditionalProperties: jsonschema.FalseSchema}
	s.Properties.Set("where", where)
	return s
}()

func ptr[T any](v T) *T { return &v }

// generatedPassword is what set-password answers when it made the password.
type generatedPassword struct {
	Password string `json:"password"`
}

func (m *Module) registerAdmin() {
	mod := m.reg.Section("/v1/admin/users", "Application users management")
	admin := []string{m.adminPerm}
	userID := rpc.Param{Name: "user_id"}
	userIDNamed := rpc.Param{Name: "user_id", Description: "User id or name."}
	mod.Register(rpc.Method{
		ID: "read", Title: "Read users", Description: "Answers users, the total in `meta.total`. Filters: `id` (`=`), `search` (`like` over name, email and telegram name); sortable by id, name, created, enabled.", Permissions: admin,
		Params:   []rpc.Param{{Name: "options?", Read: readSpec}},
		Handler:  m.read,
		DataType: reflect.TypeFor[[]record](),
	})
	mod.Register(rpc.Method{
		ID: "create", Title: "Create user", Description: "Creates a user from `fields` and answers it, with a generated password when none was given (shown only in this answer). 409 when the name or email is taken. With an API token, only the default permissions.", Permissions: admin,
		Params:  []rpc.Param{{Name: "fields"}},
		Handler: m.create,
		// The answer may carry a generated password: a void call would lose it.
		NoVoid: true,
	})
	mod.Register(rpc.Method{
		ID: "delete", Title: "Remove user", Description: "Deletes the user with its sessions and API tokens. Not root, nor the caller itself. `user_id` is an id or a user name.", Permissions: admin,
		Params:  []rpc.Param{userID},
		Handler: m.delete,
	})
	mod.Register(rpc.Method{
		ID: "set-enabled", Title: "Set user enabled", Description: "Enables or disables the user; a disabled user's sessions and API tokens stop authenticating at once. Not root, nor the caller itself.", Permissions: admin,
		Params:  []rpc.Param{userIDNamed, {Name: "enabled"}},
		Handler: m.setEnabled,
	})
	mod.Register(rpc.Method{
		ID: "set-password", Title: "Set user password", Description: "Sets the user's password, or generates one and answers it when none is given, and ends the user's sessions and API tokens. Only root sets root's password.", Permissions: admin,
		// "pasword" is the API v1 reference's spelling; clients send
		// parameters by position.
		Params:  []rpc.Param{userIDNamed, {Name: "pasword?"}},
		Handler: m.setPassword,
		NoVoid:  true,
	})
	mod.Register(rpc.Method{
		ID: "get-permissions", Title: "Get user permissions", Description: "Answers every declared permission with whether the user holds it.", Permissions: admin,
		Params:  []rpc.Param{userID},
		Handler: m.getPermissions,
	})
	mod.Register(rpc.Method{
		ID: "set-permissions", Title: "Set user permissions", Description: "Replaces the user's permissions with those given (a map of name to true or false). A caller grants only what it holds, an API token nothing (it may revoke); nobody changes root's or their own.", Permissions: admin,
		Params: []rpc.Param{userID, {Name: "permissions"}},
		Handler: func(ctx context.Context, userID string, perms map[string]bool) (rpc.Result, error) {
			return m.changePermissions(ctx, userID, perms, true)
		},
	})
	mod.Register(rpc.Method{
		ID: "update-permissions", Title: "Update user permissions", Description: "Changes only the permissions named (a map of name to true or false) and keeps the others. A caller grants only what it holds, an API token nothing (it may revoke); nobody changes root's or their own.", Permissions: admin,
		Params: []rpc.Param{userID, {Name: "permissions"}},
		Handler: func(ctx context.Context, userID string, perms map[string]bool) (rpc.Result, error) {
			return m.changePermissions(ctx, userID, perms, false)
		},
	})
	mod.Register(rpc.Method{
		ID: "suggest", Title: "Suggest user name", Description: "Answers at most 100 user names that match (`like`), for completing a name as it is typed.", Permissions: admin,
		Params:  []rpc.Param{{Name: "options?", Schema: suggestSchema}},
		Handler: m.suggest,
	})
	mod.Register(rpc.Method{
		ID: "set-username", Title: "Change user name", Description: "Renames the user, and sets a new password when one is given. Not root.", Permissions: admin,
		Params:  []rpc.Param{userID, {Name: "new_username"}, {Name: "new_password?"}},
		Handler: m.setUsername,
		NoVoid:  true,
	})
}

// read lists users (never root, never password hashes) with meta.total.
func (m *Module) read(ctx context.Context, opts read.Options) (rpc.Result, error) {
	opts, search := takeSearch(opts)
	match, err := m.searchFor(ctx, search)
	if err != nil {
		return rpc.Result{}, fmt.Errorf("users: read: %w", err)
	}
	base := func(q *bun.SelectQuery) *bun.SelectQuery {
		q = q.Where("u.id <> ?", auth.RootUserID)
		if search != "" {
			q = match.where(q)
		}
		return q
	}
	var rows []userRow
	q := base(m.db.NewSelect().Model(&rows).ModelTableExpr(m.tables.users).ExcludeColumn("password_hash", "signin_addrs"))
	// id last, so that pages sorted by a column with ties are stable.
	if err := readsql.Apply(q, opts).OrderExpr("u.id ASC").Scan(ctx); err != nil {
		return rpc.Result{}, fmt.Errorf("users: read: %w", err)
	}
	total, err := readsql.ApplyWhere(base(m.db.NewSelect().Model((*userRow)(nil)).ModelTableExpr(m.tables.users)), opts).Count(ctx)
	if err != nil {
		return rpc.Result{}, fmt.Errorf("users: read: count: %w", err)
	}
	out := make([]record, len(rows))
	for i := range rows {
		out[i] = m.record(&rows[i])
	}
	return rpc.ReadPage(opts, out, int(total))
}

// takeSearch takes the search condition out of the options, lower-cased.
// The module matches it itself, with LIKE: names, emails and telegram names
// are stored lower-case, so LIKE on a lower-cased text is the
// case-insensitive match the read options promise, and on PostgreSQL it is
// several times cheaper than ILIKE (which lower-cases every row) and served
// by the same trigram indexes.
func takeSearch(opts read.Options) (read.Options, string) {
	search := ""
	rest := make([]read.Condition, 0, len(opts.Where))
	for _, c := range opts.Where {
		if c.Field == "search" {
			search, _ = c.Value.(string)
			search = strings.ToLower(search)
			continue
		}
		rest = append(rest, c)
	}
	opts.Where = rest
	return opts, search
}

// create adds a user. Without a password one is generated and answered once.
// Permissions start from the declared defaults, overlaid with the given ones;
// the caller may grant (or withhold a default) only what it holds itself.
func (m *Module) create(ctx context.Context, f createFields) (record, error) {
	caller := auth.FromContext(ctx)
	nu, rerr := m.newUserFields(f.Username, f.Password, f.Email, f.TelegramName)
	if rerr != nil {
		return record{}, rerr
	}
	if rerr := m.checkDeclared(f.Permissions); rerr != nil {
		return record{}, rerr
	}
	defaults := m.perms.Defaults()
	nu.permissions = m.perms.Apply(defaults, f.Permissions, false)
	if rerr := m.checkGrants(caller, defaults, nu.permissions); rerr != nil {
		return record{}, rerr
	}
	if rerr := m.checkTokenGrants(caller, defaults, nu.permissions); rerr != nil {
		return record{}, rerr
	}
	nu.enabled = f.Enabled == nil || *f.Enabled
	generated := ""
	if f.Password == nil {
		generated = auth.GeneratePassword()
		nu.password = generated
	}
	row, err := m.insertUser(callerHashCtx(ctx), nu)
	if err != nil {
		return record{}, err
	}
	rec := m.record(row)
	rec.Password = generated
	return rec, nil
}

// resolve finds the user a user_id parameter names (an id, or a name), or
// answers 404.
func (m *Module) resolve(ctx context.Context, userID string) (*userRow, error) {
	ref := parseUserRef(userID)
	if !ref.ok {
		return nil, ref.notFound()
	}
	var row *userRow
	var err error
	if ref.byID {
		row, err = m.findByID(ctx, m.db, ref.id, false)
	} else {
		row, err = m.findByName(ctx, m.db, ref.name, false)
	}
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, ref.notFound()
	}
	return row, nil
}

// modify runs fn on the user with the given id, locked, in a transaction;
// after it commits, and if fn reports a change, the user's cached principals
// are dropped so that the next call sees the change, and the user's open
// sockets close: the change ends or narrows what the user's credentials
// may do.
func (m *Module) modify(ctx context.Context, id int64, fn func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error)) (bool, error) {
	return m.modifyAs(ctx, id, false, fn)
}

// modifyProfile is modify for a change that leaves the user's credentials
// as valid as they were (an email, a telegram name): the cached principals
// are refreshed, and the sockets stay open.
func (m *Module) modifyProfile(ctx context.Context, id int64, fn func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error)) (bool, error) {
	return m.modifyAs(ctx, id, true, fn)
}

func (m *Module) modifyAs(ctx context.Context, id int64, refresh bool, fn func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error)) (bool, error) {
	var changed bool
	err := m.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		row, err := m.findByID(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if row == nil { // deleted since it was resolved
			return rpc.NotFound("user %q not found", strconv.FormatInt(id, 10))
		}
		changed, err = fn(ctx, tx, row)
		return err
	})
	if err != nil {
		var rerr *rpc.Error
		switch {
		case errors.As(err, &rerr):
			return false, rerr
		case storage.IsUniqueViolation(err):
			return false, rpc.Conflict("user name, email or telegram name is taken")
		}
		return false, err
	}
	if changed {
		m.reg.Auth().Invalidate(auth.Invalidation{UserID: id, Refresh: refresh})
	}
	return changed, nil
}

func changedResult(changed bool) rpc.Result {
	if !changed {
		return rpc.NoContent()
	}
	return rpc.Result{}
}

// delete removes a user with its sessions. Nobody deletes root or themselves.
func (m *Module) delete(ctx context.Context, userID string) error {
	caller := auth.FromContext(ctx)
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return err
	}
	_, err = m.modify(ctx, row.ID, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		switch {
		case row.ID == auth.RootUserID:
			return false, rpc.Forbidden("the root user cannot be deleted")
		case row.ID == caller.UserID:
			return false, rpc.Forbidden("you cannot delete yourself")
		}
		// The foreign key cascades too; deleting here does not rely on it
		// being enforced (SQLite needs foreign_keys on).
		if _, err := m.tables.deleteSessions(ctx, tx, row.ID, 0); err != nil {
			return false, err
		}
		if err := m.tables.deleteTokens(ctx, tx, row.ID); err != nil {
			return false, err
		}
		if _, err := tx.NewDelete().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).Where("id = ?", row.ID).Exec(ctx); err != nil {
			return false, fmt.Errorf("users: delete user %d: %w", row.ID, err)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	m.hooks.run(ctx, &m.hooks.deletion, row)
	return nil
}

// setEnabled enables or disables a user. Disabling ends the user's sessions
// and voids the links mailed to them, so that enabling again does not
// revive them. Nobody changes root's flag or disables themselves.
func (m *Module) setEnabled(ctx context.Context, userID string, enabled bool) (rpc.Result, error) {
	caller := auth.FromContext(ctx)
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return rpc.Result{}, err
	}
	changed, err := m.modify(ctx, row.ID, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		switch {
		case row.ID == auth.RootUserID:
			return false, rpc.Forbidden("the root user cannot be disabled or enabled")
		case row.ID == caller.UserID && !enabled:
			return false, rpc.Forbidden("you cannot disable yourself")
		case row.Enabled == enabled:
			return false, nil
		}
		_, err := tx.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).Set("enabled = ?", enabled).Where("id = ?", row.ID).Exec(ctx)
		if err != nil {
			return false, fmt.Errorf("users: set enabled: %w", err)
		}
		if !enabled {
			if _, err := m.tables.deleteSessions(ctx, tx, row.ID, 0); err != nil {
				return false, err
			}
			if err := m.tables.deleteTokens(ctx, tx, row.ID); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	return changedResult(changed), err
}

// setPassword sets a user's password, or generates one and answers it. It
// ends the user's other sessions; a caller changing its own password keeps
// the session it called with. A call made with an API token sets neither
// its own user's password nor root's (checkTakeover).
func (m *Module) setPassword(ctx context.Context, userID string, password *string) (any, error) {
	caller := auth.FromContext(ctx)
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return nil, err
	}
	if rerr := m.checkTakeover(caller, row); rerr != nil {
		return nil, rerr
	}
	var answer any
	plain := ""
	if password == nil {
		plain = auth.GeneratePassword()
		answer = generatedPassword{Password: plain}
	} else {
		if rerr := m.checkPassword(*password); rerr != nil {
			return nil, rerr
		}
		plain = *password
	}
	hash, err := m.hasher.Hash(callerHashCtx(ctx), plain)
	if err != nil {
		return nil, busy(fmt.Errorf("users: set password: hash: %w", err))
	}
	_, err = m.modify(ctx, row.ID, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		if rerr := m.checkTakeover(caller, row); rerr != nil { // again, under the lock
			return false, rerr
		}
		return true, m.storePassword(ctx, tx, caller, row.ID, hash)
	})
	if err != nil {
		return nil, err
	}
	return answer, nil
}

// storePassword stores a new hash and ends the user's sessions, but the
// caller's own current one, and the credentials other modules hold for the
// user (API tokens; see OnCredentialsReset and
// Options.KeepTokensOnAdminSetPassword): a password set by an
// administrator is how an account is recovered. It voids the password
// reset links mailed before: they were asked for to replace the password
// this one replaces.
func (m *Module) storePassword(ctx context.Context, tx bun.Tx, caller *auth.Principal, id int64, hash string) error {
	_, err := tx.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).Set("password_hash = ?", hash).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("users: set password: %w", err)
	}
	if err := m.tables.deleteTokens(ctx, tx, id, auth.KindResetPass); err != nil {
		return err
	}
	var keep int64
	if caller.UserID == id && caller.Kind == auth.KindSession {
		keep = caller.TokenID
	}
	if _, err := m.tables.deleteSessions(ctx, tx, id, keep); err != nil {
		return err
	}
	return m.credentialsReset(ctx, tx, CredentialsReset{UserID: id})
}

func (m *Module) getPermissions(ctx context.Context, userID string) ([]permissionState, error) {
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return nil, err
	}
	return m.permissionStates(auth.FromContext(ctx), row), nil
}

// changePermissions replaces (set-permissions) or merges (update-permissions)
// a user's permissions. Nobody changes root's or their own permissions, and
// a caller changes only the permissions it holds.
func (m *Module) changePermissions(ctx context.Context, userID string, change map[string]bool, replace bool) (rpc.Result, error) {
	caller := auth.FromContext(ctx)
	if rerr := m.checkDeclared(change); rerr != nil {
		return rpc.Result{}, rerr
	}
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return rpc.Result{}, err
	}
	changed, err := m.modify(ctx, row.ID, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		switch {
		case row.ID == auth.RootUserID:
			return false, rpc.Forbidden("the root user's permissions cannot be changed")
		case row.ID == caller.UserID:
			return false, rpc.Forbidden("you cannot change your own permissions")
		}
		old := m.declaredOnly(row.Permissions)
		next := m.perms.Apply(row.Permissions, change, replace)
		if maps.Equal(old, next) {
			return false, nil
		}
		if rerr := m.checkGrants(caller, old, next); rerr != nil {
			return false, rerr
		}
		if rerr := m.checkTokenGrants(caller, old, next); rerr != nil {
			return false, rerr
		}
		// Keep grants of names no longer declared: a host that declares a
		// permission only in some deployments should not lose them.
		stored := maps.Clone(next)
		for name, on := range row.Permissions {
			if _, declared := m.perms.Lookup(name); !declared && on {
				stored[name] = true
			}
		}
		_, err := tx.NewUpdate().Model(&userRow{ID: row.ID, Permissions: stored}).ModelTableExpr(m.tables.users).Column("permissions").WherePK().Exec(ctx)
		if err != nil {
			return false, fmt.Errorf("users: set permissions: %w", err)
		}
		return true, nil
	})
	return changedResult(changed), err
}

// suggest answers up to 100 user names (root's excepted, as in read) that
// contain the given text, those that start with it first.
func (m *Module) suggest(ctx context.Context, opts *suggestOptions) ([]string, error) {
	text := ""
	if opts != nil && opts.Where != nil && opts.Where.Name != nil {
		text = strings.ToLower(opts.Where.Name[1])
	}
	if strings.IndexByte(text, 0) >= 0 {
		return nil, rpc.BadRequest("options.where.name: the text may not contain NUL characters")
	}
	names := []string{}
	if len(text) > maxEmailLength {
		return names, nil // longer than any name
	}
	q := m.db.NewSelect().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).Column("name").Where("u.id <> ?", auth.RootUserID)
	if text != "" {
		esc := storage.EscapeLike(text)
		q = q.Where(`u.name LIKE ? ESCAPE '\'`, "%"+esc+"%").
			OrderExpr(`CASE WHEN u.name LIKE ? ESCAPE '\' THEN 0 ELSE 1 END`, esc+"%")
	}
	if err := q.OrderExpr("u.name ASC").Limit(maxSuggestions).Scan(ctx, &names); err != nil {
		return nil, fmt.Errorf("users: suggest: %w", err)
	}
	return names, nil
}

// setUsername renames a user and, when new_password is given, sets the
// password as set-password does. Nobody renames root, and a call made with
// an API token does not rename its own user: the name is what signs in.
func (m *Module) setUsername(ctx context.Context, userID, newUsername string, newPassword *string) (rpc.Result, error) {
	caller := auth.FromContext(ctx)
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return rpc.Result{}, err
	}
	if row.ID == auth.RootUserID {
		return rpc.Result{}, rpc.Forbidden("the root user's name cannot be changed")
	}
	what := "user name"
	if newPassword != nil {
		what = "user name or password"
	}
	if rerr := checkTokenCredentials(caller, row.ID, what); rerr != nil {
		return rpc.Result{}, rerr
	}
	name, ok := normalizeUsername(newUsername)
	if !ok {
		return rpc.Result{}, badUsername(newUsername)
	}
	hash := ""
	if newPassword != nil {
		if rerr := m.checkTakeover(caller, row); rerr != nil {
			return rpc.Result{}, rerr
		}
		if rerr := m.checkPassword(*newPassword); rerr != nil {
			return rpc.Result{}, rerr
		}
		if hash, err = m.hasher.Hash(callerHashCtx(ctx), *newPassword); err != nil {
			return rpc.Result{}, busy(fmt.Errorf("users: set username: hash: %w", err))
		}
	}
	changed, err := m.modify(ctx, row.ID, func(ctx context.Context, tx bun.Tx, row *userRow) (bool, error) {
		changed := false
		if row.Name != name {
			field, err := m.taken(ctx, tx, row.ID, name, "", "")
			if err != nil {
				return false, err
			}
			if rerr := takenError(field, name, "", ""); rerr != nil {
				return false, rerr
			}
			if _, err := tx.NewUpdate().Model((*userRow)(nil)).ModelTableExpr(m.tables.users).Set("name = ?", name).Where("id = ?", row.ID).Exec(ctx); err != nil {
				return false, fmt.Errorf("users: set username: %w", err)
			}
			changed = true
		}
		if hash != "" {
			if rerr := m.checkTakeover(caller, row); rerr != nil {
				return false, rerr
			}
			if err := m.storePassword(ctx, tx, caller, row.ID, hash); err != nil {
				return false, err
			}
			changed = true
		}
		return changed, nil
	})
	return changedResult(changed), err
}
