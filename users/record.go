package users

import (
	"time"

	"github.com/authrpc/authrpc/auth"
)

// How clients see users: the shapes the methods answer, built from a User
// (or the caller's principal) and the declared permissions.

// record is a user as clients see it: never the password hash, optional
// fields null when unset, every declared permission true or false.
type record struct {
	ID             int64           `json:"id,string"`
	Name           string          `json:"name"`
	Email          *string         `json:"email"`
	EmailConfirmed bool            `json:"email_confirmed"`
	TelegramName   *string         `json:"telegram_name"`
	Enabled        bool            `json:"enabled"`
	Permissions    map[string]bool `json:"permissions"`
	Created        time.Time       `json:"created"`
	// Gravatar and Avatar are read by @softvisio/core front ends: see gravatar
	// and Options.AvatarURL.
	Gravatar string  `json:"gravatar"`
	Avatar   *string `json:"avatar"`

	// Password is a generated password, sent once, in the answer of create.
	Password string `json:"password,omitempty"`
}

// record is a stored row as clients see it.
func (m *Module) record(row *userRow) record { return m.recordOf(row.user()) }

func (m *Module) recordOf(u *User) record {
	g := gravatar(u.Email, u.Name)
	return record{
		Gravatar:       g,
		Avatar:         m.avatar(g),
		ID:             u.ID,
		Name:           u.Name,
		Email:          optional(u.Email),
		EmailConfirmed: u.EmailConfirmed,
		TelegramName:   optional(u.TelegramName),
		Enabled:        u.Enabled,
		Permissions:    m.permissionsView(u),
		Created:        u.Created,
	}
}

// authInfo is who a caller is, as signin answers it.
type authInfo struct {
	// IsAuthenticated is read by @softvisio/core's session store to tell a
	// signed-in caller. Always true, as signin answers only those.
	IsAuthenticated bool            `json:"is_authenticated"`
	UserID          int64           `json:"user_id,string"`
	Username        string          `json:"username"`
	Permissions     map[string]bool `json:"permissions"`
	Email           *string         `json:"email"`
	EmailConfirmed  bool            `json:"email_confirmed"`
	TelegramName    *string         `json:"telegram_name"`
	// Expires is when the session (or API token) stops working; absent if never.
	Expires  *time.Time `json:"expires,omitempty"`
	Gravatar string     `json:"gravatar"`
	Avatar   *string    `json:"avatar"`
}

// authInfo describes u signed in, holding perms (see permissionsView and
// callerView).
func (m *Module) authInfo(u *User, perms map[string]bool) authInfo {
	g := gravatar(u.Email, u.Name)
	return authInfo{
		IsAuthenticated: true,
		Gravatar:        g,
		Avatar:          m.avatar(g),
		UserID:          u.ID,
		Username:        u.Name,
		Permissions:     perms,
		Email:           optional(u.Email),
		EmailConfirmed:  u.EmailConfirmed,
		TelegramName:    optional(u.TelegramName),
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// permissionState is one entry of get-permissions: a declared permission and
// whether the user holds it. A list rather than a map because a UI renders
// it as labelled checkboxes: it needs the title and description, and a stable
// order (by name).
//
// The fields are those @softvisio/core front ends read: id is the
// permission and name its title (their permissions dialog submits the
// ids); title repeats it under the
// name our clients read.
type permissionState struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
	// Grantable says whether the caller may change it (holds it).
	Grantable bool `json:"grantable"`
}

// holds reports whether u holds a permission; root holds all.
func holds(u *User, name string) bool {
	return u.IsRoot() || u.Permissions[name]
}

// permissionsView lists every declared permission with whether the user
// holds it, as clients see a user's permissions.
func (m *Module) permissionsView(u *User) map[string]bool {
	list := m.perms.List()
	out := make(map[string]bool, len(list))
	for _, p := range list {
		out[p.Name] = holds(u, p.Name)
	}
	return out
}

func (m *Module) permissionStates(caller *auth.Principal, u *User) []permissionState {
	list := m.perms.List()
	out := make([]permissionState, len(list))
	for i, p := range list {
		out[i] = permissionState{
			ID: p.Name, Name: p.Title, Title: p.Title, Description: p.Description,
			Enabled: holds(u, p.Name), Grantable: caller.Has(p.Name),
		}
	}
	return out
}

// callerView lists every declared permission with whether the caller holds
// it: for an API token, the token's effective permissions.
func (m *Module) callerView(p *auth.Principal) map[string]bool {
	list := m.perms.List()
	out := make(map[string]bool, len(list))
	for _, d := range list {
		out[d.Name] = p.Has(d.Name)
	}
	return out
}
