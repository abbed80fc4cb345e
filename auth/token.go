package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// TokenBytes is how many random bytes a token carries: 256 bits, well over
// the 128 the contract asks for.
const TokenBytes = 32

// tokenBodyLen is the length of a token's text after "<kind>_": unpadded
// base64 of TokenBytes bytes, 43 characters.
const tokenBodyLen = (TokenBytes*8 + 5) / 6

// NewToken mints a token of the given kind: "<kind>_" followed by TokenBytes
// random bytes from crypto/rand in unpadded base64url, such as
// "ses_3q2-7w…". It returns the plain text, to show once to its holder, and
// its digest (see Digest), the only thing to store.
//
// Only the kinds declared in this package (KindSession, KindAPIToken,
// KindConfirmEmail, KindResetPass, KindSecondFactor) can be minted.
func NewToken(kind Kind) (plain string, digest []byte, err error) {
	if !tokenKind(kind) {
		return "", nil, fmt.Errorf("auth: new token: unknown kind %q", kind)
	}
	var raw [TokenBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, fmt.Errorf("auth: new token: %w", err)
	}
	var b strings.Builder
	b.Grow(len(kind) + 1 + tokenBodyLen)
	b.WriteString(string(kind))
	b.WriteByte('_')
	b.WriteString(base64.RawURLEncoding.EncodeToString(raw[:]))
	plain = b.String()
	return plain, Digest(plain), nil
}

// Digest returns the SHA-256 digest of a token's whole plain text, prefix
// included: what is stored and looked up instead of the token itself.
func Digest(plain string) []byte {
	sum := sha256.Sum256([]byte(plain))
	return sum[:]
}

// digestKey is Digest without the allocations, for the cache's hot path.
// Tokens are short, so hashing a copy on the stack beats converting the
// string to a heap slice.
func digestKey(plain string) [sha256.Size]byte {
	var buf [64]byte
	if len(plain) <= len(buf) {
		n := copy(buf[:], plain)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(plain))
}

// TokenKind reports the kind of a token by its shape alone: a known kind
// prefix, "_", and exactly the base64url text of TokenBytes bytes, as
// NewToken makes them. It does no I/O, so garbage is turned away before any
// lookup. It does not say whether the token is valid.
func TokenKind(plain string) (Kind, bool) {
	i := strings.IndexByte(plain, '_')
	if i <= 0 || len(plain)-i-1 != tokenBodyLen {
		return KindNone, false
	}
	kind := Kind(plain[:i])
	if !tokenKind(kind) {
		return KindNone, false
	}
	body := plain[i+1:]
	for j := 0; j < len(body); j++ {
		if base64URLValue(body[j]) < 0 {
			return KindNone, false
		}
	}
	// 32 bytes fill 43 characters with 2 bits to spare; NewToken leaves them
	// zero, so any other last character is not one of ours.
	if base64URLValue(body[len(body)-1])&0b11 != 0 {
		return KindNone, false
	}
	return kind, true
}

// tokenKind reports whether k is a kind that tokens are minted for.
func tokenKind(k Kind) bool {
	switch k {
	case KindSession, KindAPIToken, KindConfirmEmail, KindResetPass, KindSecondFactor:
		return true
	}
	return false
}

// base64URLValue returns the 6-bit value of a base64url character, or -1.
func base64URLValue(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}
