package users

import (
	"errors"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/quote"
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

func badUsername(s string) *Error {
	return refuse(ErrInvalid, "user name %s is not valid: use 3 to 32 of a-z, 0-9, _ . @ - (not only digits), or an email address", quote.Short(s))
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

func badEmail(s string) *Error {
	return refuse(ErrInvalid, "email %s is not a valid address: send a bare address such as user@example.com, at most %d bytes", quote.Short(s), maxEmailLength)
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

func badTelegram(s string) *Error {
	return refuse(ErrInvalid, "telegram name %s is not valid: use 5 to 32 of a-z, 0-9 and _ (a leading @ is dropped)", quote.Short(s))
}

// checkPassword applies the hasher's length rules to a new password.
func (m *Module) checkPassword(password string) *Error {
	if err := m.hasher.CheckPassword(password); err != nil {
		var pe *auth.PasswordError
		if errors.As(err, &pe) {
			return refuse(ErrInvalid, "%s", pe.Error())
		}
		return refuse(ErrInvalid, "password is not valid")
	}
	return nil
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
