package users

import (
	"context"
	"fmt"
	"reflect"
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
	m.registerAdminSessions(mod)
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
	q := base(m.db.NewSelect().Model(&rows).ModelTableExpr(m.tables.users).ExcludeColumn("password_hash", "signin_addrs", "signin_devices"))
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

// The handlers below are adapters: they resolve the user_id parameter,
// call the operation as the caller (As) and answer its refusals as
// rpcError does.

// create answers /v1/admin/users/create: the new user, with the password
// generated when none was given, answered once.
func (m *Module) create(ctx context.Context, f createFields) (record, error) {
	nu := NewUser{
		Username: f.Username, Password: deref(f.Password),
		Email: deref(f.Email), TelegramName: deref(f.TelegramName),
		Disabled: f.Enabled != nil && !*f.Enabled, Permissions: f.Permissions,
	}
	row, generated, err := m.As(auth.FromContext(ctx)).create(ctx, nu, f.Password == nil)
	if err != nil {
		return record{}, rpcError(err)
	}
	rec := m.record(row)
	rec.Password = generated
	return rec, nil
}

func (m *Module) delete(ctx context.Context, userID string) error {
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return err
	}
	return rpcError(m.As(auth.FromContext(ctx)).delete(ctx, row.ID))
}

func (m *Module) setEnabled(ctx context.Context, userID string, enabled bool) (rpc.Result, error) {
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return rpc.Result{}, err
	}
	return changedResult(m.As(auth.FromContext(ctx)).setEnabled(ctx, row.ID, enabled))
}

// setPassword answers /v1/admin/users/set-password: nothing, or the
// password it generated when none was given.
func (m *Module) setPassword(ctx context.Context, userID string, password *string) (any, error) {
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return nil, err
	}
	var answer any
	plain := deref(password)
	if password == nil {
		plain = auth.GeneratePassword()
		answer = generatedPassword{Password: plain}
	}
	if err := m.As(auth.FromContext(ctx)).setPassword(ctx, row, plain); err != nil {
		return nil, rpcError(err)
	}
	return answer, nil
}

func (m *Module) getPermissions(ctx context.Context, userID string) ([]permissionState, error) {
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return nil, err
	}
	return m.permissionStates(auth.FromContext(ctx), row.user()), nil
}

// changePermissions answers set-permissions (replace) and
// update-permissions.
func (m *Module) changePermissions(ctx context.Context, userID string, change map[string]bool, replace bool) (rpc.Result, error) {
	// An undeclared name is refused before the user is looked for.
	if err := m.checkDeclared(change); err != nil {
		return rpc.Result{}, rpcError(err)
	}
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return rpc.Result{}, err
	}
	return changedResult(m.As(auth.FromContext(ctx)).changePermissions(ctx, row.ID, change, replace))
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

// setUsername answers /v1/admin/users/set-username: a new name and, when
// new_password is given, a new password.
func (m *Module) setUsername(ctx context.Context, userID, newUsername string, newPassword *string) (rpc.Result, error) {
	row, err := m.resolve(ctx, userID)
	if err != nil {
		return rpc.Result{}, err
	}
	return changedResult(m.As(auth.FromContext(ctx)).rename(ctx, row, newUsername, newPassword))
}
