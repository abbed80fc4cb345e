package users

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
)

// DefaultAvatarURL is Options.AvatarURL's default: Gravatar's picture, or
// an identicon for an address it does not know.
const DefaultAvatarURL = "https://s.gravatar.com/avatar/{gravatar}?d=identicon"

func avatarURL(opts Options) string {
	switch {
	case opts.NoAvatar:
		return ""
	case opts.AvatarURL != "":
		return opts.AvatarURL
	}
	return DefaultAvatarURL
}

// gravatar is a user's gravatar field: the MD5 of the trimmed,
// lower-cased email (Gravatar's key). A user without an email gets the
// one of its name, so that each still has an identicon of its own.
func gravatar(email, name string) string {
	key := email
	if key == "" {
		key = name
	}
	sum := md5.Sum([]byte(strings.ToLower(strings.TrimSpace(key))))
	return hex.EncodeToString(sum[:])
}

// avatar is the picture's address for a gravatar, or nil when avatars are off.
func (m *Module) avatar(hash string) *string {
	if m.avatarURL == "" {
		return nil
	}
	u := strings.ReplaceAll(m.avatarURL, "{gravatar}", hash)
	return &u
}
