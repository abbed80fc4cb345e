package auth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
)

var tokenKinds = []auth.Kind{auth.KindSession, auth.KindAPIToken, auth.KindConfirmEmail, auth.KindResetPass, auth.KindSecondFactor}

func TestNewTokenShape(t *testing.T) {
	t.Parallel()
	for _, kind := range tokenKinds {
		t.Run(string(kind), func(t *testing.T) {
			plain, digest, err := auth.NewToken(kind)
			require.NoError(t, err)

			prefix := string(kind) + "_"
			require.True(t, strings.HasPrefix(plain, prefix), "token %q lacks prefix %q", plain, prefix)
			raw, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimPrefix(plain, prefix))
			require.NoError(t, err)
			assert.Len(t, raw, auth.TokenBytes)

			sum := sha256.Sum256([]byte(plain))
			assert.Equal(t, sum[:], digest)
			assert.Equal(t, digest, auth.Digest(plain))

			got, ok := auth.TokenKind(plain)
			assert.True(t, ok)
			assert.Equal(t, kind, got)
		})
	}
}

func TestNewTokenUnknownKind(t *testing.T) {
	t.Parallel()
	for _, kind := range []auth.Kind{auth.KindNone, "xyz", "ses_", "SES"} {
		_, _, err := auth.NewToken(kind)
		assert.Error(t, err, "kind %q", kind)
	}
}

func TestNewTokenUnique(t *testing.T) {
	t.Parallel()
	const n = 1000
	seen := make(map[string]bool, n)
	for range n {
		plain, _, err := auth.NewToken(auth.KindSession)
		require.NoError(t, err)
		require.False(t, seen[plain], "duplicate token %q", plain)
		seen[plain] = true
	}
}

func TestDigestCoversPrefix(t *testing.T) {
	t.Parallel()
	plain, _, err := auth.NewToken(auth.KindSession)
	require.NoError(t, err)
	// The same random part under another kind is another token.
	other := string(auth.KindAPIToken) + strings.TrimPrefix(plain, string(auth.KindSession))
	assert.NotEqual(t, auth.Digest(plain), auth.Digest(other))
	assert.Len(t, auth.Digest(""), sha256.Size)
}

func TestTokenKindRejectsMalformed(t *testing.T) {
	t.Parallel()
	good, _, err := auth.NewToken(auth.KindAPIToken)
	require.NoError(t, err)
	body := strings.TrimPrefix(good, "tok_")

	cases := map[string]string{
		"empty":             "",
		"underscore only":   "_",
		"prefix only":       "tok_",
		"no separator":      "tok" + body,
		"unknown prefix":    "abc_" + body,
		"upper prefix":      "TOK_" + body,
		"empty kind":        "_" + body,
		"kind none":         string(auth.KindNone) + "_" + body,
		"one char short":    good[:len(good)-1],
		"one char long":     good + "A",
		"padded":            good + "=",
		"std base64 plus":   "tok_+" + body[1:],
		"std base64 slash":  "tok_/" + body[1:],
		"space":             "tok_ " + body[1:],
		"leading space":     " " + good,
		"trailing newline":  good[:len(good)-1] + "\n",
		"NUL":               "tok_\x00" + body[1:],
		"non-ASCII":         "tok_é" + body[2:],
		"invalid UTF-8":     "tok_\xff" + body[1:],
		"bearer prefix":     "Bearer " + good,
		"sql":               "tok_' OR 1=1 --" + strings.Repeat("A", 43-len("' OR 1=1 --")),
		"huge":              "tok_" + strings.Repeat("A", 1<<20),
		"non-canonical end": good[:len(good)-1] + "B", // low bits set: no 32-byte value encodes so
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			kind, ok := auth.TokenKind(s)
			assert.False(t, ok, "accepted %q", s)
			assert.Equal(t, auth.KindNone, kind)
		})
	}
}

func TestTokenKindAcceptsEveryAlphabetCharacter(t *testing.T) {
	t.Parallel()
	// Underscores and dashes in the body must not confuse the prefix split.
	body := "_-_-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLA"
	require.Len(t, body, 43)
	kind, ok := auth.TokenKind("ses_" + body)
	assert.True(t, ok)
	assert.Equal(t, auth.KindSession, kind)
}

func FuzzTokenKind(f *testing.F) {
	good, _, err := auth.NewToken(auth.KindSession)
	require.NoError(f, err)
	f.Add(good)
	f.Add("")
	f.Add("tok_")
	f.Add("ses_" + strings.Repeat("_", 43))
	f.Fuzz(func(t *testing.T, s string) {
		kind, ok := auth.TokenKind(s)
		if !ok {
			return
		}
		// Whatever is accepted is exactly what NewToken could have made.
		prefix := string(kind) + "_"
		require.True(t, strings.HasPrefix(s, prefix))
		raw, err := base64.RawURLEncoding.Strict().DecodeString(s[len(prefix):])
		require.NoError(t, err)
		require.Len(t, raw, auth.TokenBytes)
	})
}
