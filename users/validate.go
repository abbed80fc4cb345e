package users

import (
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// Limits of the stored text fields.
const (
	maxNameLength  = 32  // a plain user name
	maxEmailLength = 254 // an email address, as a user name or an email (RFC 5321 path limit)
)

// normalizeUsername lower-cases a user name and checks it: 3 to 32 of
// a-z 0-9 _ . @ -, not all digits (those are ids), or an email address.
// Names are ASCII so that no two can look alike.
func normalizeUsername(s string) (string, bool) {
	if len(s) > maxEmailLength || !isASCIIPrintable(s) {
		return "", false
	}
	name := strings.ToLower(s)
	if len(name) >= 3 && len(name) <= maxNameLength && onlyBytes(name, isNameByte) && !allDigits(name) {
		return name, true
	}
	if email, ok := normalizeEmail(name); ok {
		return email, true
	}
	return "", false
}

func badUsername(s string) *rpc.Error {
	return rpc.BadRequest("user name %s is not valid: use 3 to 32 of a-z, 0-9, _ . @ - (not only digits), or an email address", rpc.Quote(s))
}

// normalizeEmail checks that s is a bare email address (user@domain, no
// display name or angle brackets) of at most 254 bytes, and lower-cases it.
// The whole address is lower-cased, not only the domain: mailboxes that
// tell case apart are practically extinct, and one form per address keeps
// uniqueness and lookups simple.
func normalizeEmail(s string) (string, bool) {
	if s == "" || len(s) > maxEmailLength || !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return "", false
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", false
	}
	return strings.ToLower(s), true
}

func badEmail(s string) *rpc.Error {
	return rpc.BadRequest("email %s is not a valid address: send a bare address such as user@example.com, at most %d bytes", rpc.Quote(s), maxEmailLength)
}

// normalizeTelegram strips a leading @, lower-cases, and checks 5 to 32 of
// a-z 0-9 _.
func normalizeTelegram(s string) (string, bool) {
	name := strings.ToLower(strings.TrimPrefix(s, "@"))
	if len(name) < 5 || len(name) > 32 || !onlyBytes(name, isTelegramByte) {
		return "", false
	}
	return name, true
}

func badTelegram(s string) *rpc.Error {
	return rpc.BadRequest("telegram name %s is not valid: use 5 to 32 of a-z, 0-9 and _ (a leading @ is dropped)", rpc.Quote(s))
}

// checkPassword applies the hasher's length rules to a new password.
func (m *Module) checkPassword(password string) *rpc.Error {
	if err := m.hasher.CheckPassword(password); err != nil {
		var pe *auth.PasswordError
		if errors.As(err, &pe) {
			return rpc.BadRequest("%s", pe.Error())
		}
		return rpc.BadRequest("password is not valid")
	}
	return nil
}

// userRef is a parsed user_id parameter: an id (all digits) or a name.
type userRef struct {
	raw  string
	id   int64  // when byID
	name string // normalized, when !byID and valid
	byID bool
	ok   bool // false: it cannot name any user
}

func parseUserRef(s string) userRef {
	ref := userRef{raw: s}
	if s != "" && allDigits(s) {
		id, err := strconv.ParseInt(s, 10, 64)
		ref.byID, ref.id, ref.ok = true, id, err == nil && id > 0
		return ref
	}
	ref.name, ref.ok = normalizeUsername(s)
	return ref
}

func (r userRef) notFound() *rpc.Error {
	return rpc.NotFound("user %s not found", rpc.Quote(r.raw))
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '@' || c == '-'
}

func isTelegramByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
}

func onlyBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	return onlyBytes(s, func(c byte) bool { return c >= '0' && c <= '9' })
}

func isASCIIPrintable(s string) bool {
	return onlyBytes(s, func(c byte) bool { return c > ' ' && c < 0x7f })
}
