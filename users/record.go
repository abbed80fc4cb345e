package users

import (
	"time"
)

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

func (m *Module) record(row *userRow) record {
	g := gravatar(row.Email, row.Name)
	return record{
		Gravatar:       g,
		Avatar:         m.avatar(g),
		ID:             row.ID,
		Name:           row.Name,
		Email:          optional(row.Email),
		EmailConfirmed: row.EmailConfirmed,
		TelegramName:   optional(row.TelegramName),
		Enabled:        row.Enabled,
		Permissions:    m.permissionsView(row),
		Created:        row.Created.UTC(),
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
