package storage

import (
	"fmt"
	"strings"
)

// MaxTablePrefix is the longest table prefix, in bytes. It keeps every name
// made from one (tables, indexes, constraints, sequences, Sync channels)
// within PostgreSQL's 63-byte identifiers.
const MaxTablePrefix = 20

// PrefixMarker stands for the table prefix in text given to Prefixed.
const PrefixMarker = "{prefix}"

// CheckTablePrefix returns an error unless prefix can be put before the
// names of tables, indexes and constraints: empty (the names as they are),
// or 1 to MaxTablePrefix of [a-z0-9_] starting with a letter or '_', such
// as "app_". Upper case is refused because PostgreSQL folds unquoted names
// to lower case, which would make "App_users" and "app_users" one table in
// some statements and two in others.
func CheckTablePrefix(prefix string) error {
	if len(prefix) > MaxTablePrefix {
		return fmt.Errorf("storage: table prefix %q: longer than %d bytes", prefix, MaxTablePrefix)
	}
	for i, r := range prefix {
		switch {
		case r >= 'a' && r <= 'z', r == '_':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return fmt.Errorf("storage: table prefix %q: want [a-z0-9_], starting with a letter or '_'", prefix)
		}
	}
	return nil
}

// Prefixed returns text with every PrefixMarker replaced by prefix: how a
// module writes the SQL of its migrations and queries once, for any table
// prefix. With prefix "app_", "CREATE TABLE {prefix}users" becomes
// "CREATE TABLE app_users"; with "", the text names the tables as they are.
// prefix is not checked here: check it once with CheckTablePrefix.
func Prefixed(prefix, text string) string {
	return strings.ReplaceAll(text, PrefixMarker, prefix)
}
