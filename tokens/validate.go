package tokens

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authrpc/authrpc/rpc"
)

// maxNameRunes bounds a token's name, in characters.
const maxNameRunes = 64

// checkName trims a token name and checks it: 1 to 64 printable characters
// (letters, marks, numbers, punctuation, symbols and the plain space), so
// that no control, format (such as bidi overrides) or invalid byte reaches
// a list a human reads.
func checkName(s string) (string, *rpc.Error) {
	name := strings.TrimSpace(s)
	ok := name != "" && len(name) <= maxNameRunes*utf8.UTFMax && utf8.ValidString(name) &&
		utf8.RuneCountInString(name) <= maxNameRunes
	if ok {
		for _, r := range name {
			if !unicode.IsPrint(r) {
				ok = false
				break
			}
		}
	}
	if !ok {
		return "", rpc.BadRequest("token name %s is not valid: use 1 to %d printable characters, without control characters", rpc.Quote(s), maxNameRunes)
	}
	return name, nil
}

// parseID parses a token_id parameter: the decimal digits of a positive
// 64-bit id. Anything else cannot be an id at all, and is a 400 rather
// than a 404, so that a client sending, say, a token's name learns why.
func parseID(s string) (int64, *rpc.Error) {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil {
			return id, nil
		}
	}
	return 0, rpc.BadRequest("token_id %s is not a token id: send the id's decimal digits as a string, such as \"100\"", rpc.Quote(s))
}
