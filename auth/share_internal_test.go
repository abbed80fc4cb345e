package auth

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInvalidationEncoding(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		inv  Invalidation
		text string
	}{
		{Invalidation{}, "*"},
		{Invalidation{UserID: 12}, "u:12"},
		{Invalidation{Kind: KindAPIToken, TokenID: 34}, "t:tok:34"},
		{Invalidation{Kind: KindSession}, "k:ses"},
		{Invalidation{TokenID: 7}, "i:7"},
		{Invalidation{UserID: 6, Kind: KindSession, TokenID: 2}, "u:6 t:ses:2"},
		{Invalidation{UserID: 6, Kind: KindSession}, "u:6 k:ses"},
		{Invalidation{UserID: -1, TokenID: 9223372036854775807}, "u:-1 i:9223372036854775807"},
		{Invalidation{UserID: 12, Refresh: true}, "u:12 r"},
		{Invalidation{UserID: 6, Kind: KindSession, TokenID: 2, Refresh: true}, "u:6 t:ses:2 r"},
		{Invalidation{Refresh: true}, "* r"},
	} {
		assert.Equal(t, c.text, c.inv.encode(), "%+v", c.inv)
		got, err := parseInvalidation(c.text)
		require.NoError(t, err, c.text)
		assert.Equal(t, c.inv, got, c.text)
	}

	// A kind the format cannot carry: say everything rather than nothing.
	assert.Equal(t, "*", Invalidation{UserID: 5, Kind: "a b"}.encode())
	assert.Equal(t, "*", Invalidation{Kind: "x:y", TokenID: 1}.encode())
	assert.Equal(t, "*", Invalidation{Kind: "x:y", Refresh: true}.encode(), "an end covers a refresh")

	for _, bad := range []string{
		"", " ", "**", "u", "u:", "u:0", "u:x", "u:+1", "u:01", "u:1 u:2", "u:1  t:ses:1", "u:1 ",
		"t:ses", "t::1", "t:ses:", "t:ses:0", "t:SES:1", "t:ses:1 k:tok", "k:ses i:1", "i:1 i:2",
		"k:", "k:" + string(make([]byte, 17)), "x:1", "u:99999999999999999999", "* u:1",
		"r", " r", "u:1 r r", "r u:1", "u:1 r ", "*r", "u:1 R",
	} {
		_, err := parseInvalidation(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func FuzzParseInvalidation(f *testing.F) {
	for _, s := range []string{"*", "u:12", "t:tok:34", "k:ses", "i:7", "u:6 t:ses:2", "u:1 u:2", "garbage", "u:12 r", "* r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		inv, err := parseInvalidation(s)
		if err != nil {
			return
		}
		// What parses encodes to a text that means the same.
		again, err := parseInvalidation(inv.encode())
		require.NoError(t, err)
		assert.Equal(t, inv, again)
	})
}
