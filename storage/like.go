package storage

import "strings"

// EscapeLike escapes s for a LIKE pattern written with ESCAPE '\': %, _ and
// \ then match themselves, on both databases.
//
//	q.Where(`name LIKE ? ESCAPE '\'`, "%"+storage.EscapeLike(text)+"%")
func EscapeLike(s string) string {
	if !strings.ContainsAny(s, `%_\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%', '_', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
