package tokens_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
	"github.com/authrpc/authrpc/tokens"
)

func names(list []tokenRec) []string {
	out := make([]string, len(list))
	for i, r := range list {
		out[i] = r.Name
	}
	return out
}

func TestRead(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		made := map[string]tokenRec{}
		for _, name := range []string{"ci main", "old CI", "deploy", "100%_sure", "деплой 🚀"} {
			made[name] = e.newToken(t, c.ann, name)
		}
		e.newToken(t, c.bob, "bob's ci")
		e.ok(t, c.ann, "/v1/api-tokens/set-enabled", made["deploy"].ID, false)

		read := func(opts any) ([]tokenRec, float64) {
			t.Helper()
			var a *rpctest.Answer
			if opts == nil {
				a = e.ok(t, c.ann, "/v1/api-tokens/read")
			} else {
				a = e.ok(t, c.ann, "/v1/api-tokens/read", opts)
			}
			var list []tokenRec
			a.Decode(t, &list)
			return list, a.Meta["total"].(float64)
		}

		list, total := read(nil)
		assert.Equal(t, []string{"ci main", "old CI", "deploy", "100%_sure", "деплой 🚀"}, names(list), "only ann's, by id")
		assert.Equal(t, float64(5), total)
		// What create answered, but the token, is what read answers.
		first := made["ci main"]
		first.Token = ""
		assert.Equal(t, first, list[0])
		for _, r := range list {
			assert.Empty(t, r.Token)
		}

		list, total = read(map[string]any{"where": map[string]any{"name": []string{"like", "ci"}}})
		assert.Equal(t, []string{"ci main", "old CI"}, names(list), "like is a case-insensitive substring match")
		assert.Equal(t, float64(2), total)
		list, _ = read(map[string]any{"where": map[string]any{"name": []string{"like", "%_"}}})
		assert.Equal(t, []string{"100%_sure"}, names(list), "% and _ match themselves")
		list, _ = read(map[string]any{"where": map[string]any{"name": "deploy"}})
		assert.Equal(t, []string{"deploy"}, names(list))
		list, _ = read(map[string]any{"where": map[string]any{"enabled": false}})
		assert.Equal(t, []string{"deploy"}, names(list))
		list, _ = read(map[string]any{"where": map[string]any{"id": made["old CI"].ID}})
		assert.Equal(t, []string{"old CI"}, names(list))

		list, total = read(map[string]any{"order_by": []any{[]string{"enabled", "asc"}, []string{"name", "desc"}}, "limit": 2, "offset": 1})
		assert.Equal(t, []string{"деплой 🚀", "old CI"}, names(list), "deploy (disabled) first, then by name, descending")
		assert.Equal(t, float64(5), total)
		list, _ = read(map[string]any{"order_by": []string{"created", "desc"}, "limit": 1000})
		assert.Len(t, list, 5, "a large limit is clamped, not refused")

		for _, opts := range []string{
			`[{"where":{"user_id":"100"}}]`,
			`[{"where":{"digest":"x"}}]`,
			`[{"where":{"token":"x"}}]`,
			`[{"where":{"id":["like","1"]}}]`,
			`[{"where":{"enabled":"yes"}}]`,
			`[{"where":{"name":["~","x"]}}]`,
			`[{"order_by":"digest"}]`,
			`[{"order_by":"user_id; DROP TABLE api_tokens"}]`,
			`[{"limit":0}]`,
			`[{"limit":"10"}]`,
			`[{"offset":-1}]`,
			`[{"select":"*"}]`,
			`["options"]`,
			`[{}, 1]`,
		} {
			a := e.do(t, c.ann, "/v1/api-tokens/read", opts)
			assert.Equal(t, rpc.CodeInvalidParams, a.Code, "%s: %s", opts, a.Raw)
		}
	})
}

// Neither the plain token nor its digest ever leaves create's answer; the
// table holds the digest only.
func TestSecretsStayHidden(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		tok := e.newToken(t, c.ann, "secret keeper")
		digest := auth.Digest(tok.Token)
		secrets := []string{
			tok.Token,
			strings.TrimPrefix(tok.Token, "tok_"),
			hex.EncodeToString(digest),
			strings.ToUpper(hex.EncodeToString(digest)),
			base64.StdEncoding.EncodeToString(digest),
			base64.RawStdEncoding.EncodeToString(digest),
			base64.URLEncoding.EncodeToString(digest),
			base64.RawURLEncoding.EncodeToString(digest),
		}
		e.ok(t, c.ann, "/v1/api-tokens/update-permissions", tok.ID, map[string]bool{"admin": true})
		answers := []*rpctest.Answer{
			e.ok(t, c.ann, "/v1/api-tokens/read"),
			e.ok(t, c.ann, "/v1/api-tokens/read", map[string]any{"where": map[string]any{"id": tok.ID}}),
			e.ok(t, c.ann, "/v1/api-tokens/get-permissions", tok.ID),
			e.ok(t, tok.Token, "/v1/api-tokens/read"),
			e.ok(t, tok.Token, "/v1/session/signin"),
			e.ok(t, tok.Token, "/v1/admin/users/read"),
			e.ok(t, c.ann, "/v1/profile/read"),
		}
		for _, a := range answers {
			for _, s := range secrets {
				assert.NotContains(t, a.Raw, s)
			}
		}

		var stored []struct {
			Digest []byte `bun:"digest"`
		}
		require.NoError(t, e.db.NewSelect().Table("api_tokens").Column("digest").Scan(context.Background(), &stored))
		require.Len(t, stored, 1)
		assert.Equal(t, digest, stored[0].Digest)
		assert.NotContains(t, e.snapshot(t), strings.TrimPrefix(tok.Token, "tok_"))
	})
}

func TestNames(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		assert.Equal(t, "ci", e.newToken(t, c.ann, "  ci \t").Name, "trimmed")
		a := e.refused(t, 409, c.ann, "/v1/api-tokens/create", "ci")
		assert.Contains(t, a.Message, `"ci"`)
		e.refused(t, 409, c.ann, "/v1/api-tokens/create", " ci ")
		e.newToken(t, c.ann, "CI") // names are told apart by case, as they are shown
		e.newToken(t, c.bob, "ci") // and per user
		e.newToken(t, c.ann, strings.Repeat("é", 64))
		e.newToken(t, c.ann, "'; DROP TABLE api_tokens; --")

		var list []tokenRec
		e.ok(t, c.ann, "/v1/api-tokens/read", map[string]any{"where": map[string]any{"name": "ci"}}).Decode(t, &list)
		require.Len(t, list, 1)
		e.ok(t, c.ann, "/v1/api-tokens/delete", list[0].ID)
		e.newToken(t, c.ann, "ci") // a deleted token's name is free again
	})
}

func TestMaxPerUser(t *testing.T) {
	t.Parallel()
	runWith(t, tokens.Options{MaxPerUser: 2}, func(t *testing.T, e *env) {
		c := newCast(t, e)
		first := e.newToken(t, c.ann, "one")
		e.newToken(t, c.ann, "two")
		before := e.snapshot(t)
		a := e.refused(t, 400, c.ann, "/v1/api-tokens/create", "three")
		assert.Contains(t, a.Message, "delete one first")
		assert.Equal(t, before, e.snapshot(t))
		e.newToken(t, c.bob, "bob's own bound")
		e.ok(t, c.ann, "/v1/api-tokens/delete", first.ID)
		e.newToken(t, c.ann, "three")
	})
	runWith(t, tokens.Options{MaxPerUser: -1}, func(t *testing.T, e *env) {
		c := newCast(t, e)
		for i := range tokens.DefaultMaxPerUser + 1 {
			e.newToken(t, c.ann, fmt.Sprintf("token %d", i))
		}
	})
}
