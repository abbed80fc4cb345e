// Package quote quotes text taken from a request for an error message.
package quote

import (
	"strconv"
	"unicode/utf8"
)

// most is how many bytes of the text a quote keeps.
const most = 40

// Short quotes s as strconv.Quote does, cut to its first 40 bytes (at a rune
// boundary, then an ellipsis) so that a hostile request cannot make the
// answer large.
func Short(s string) string {
	if len(s) <= most {
		return strconv.Quote(s)
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
