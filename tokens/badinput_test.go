package tokens_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/rpc"
)

// hostile are strings that are no token id. Those after the first five
// are no token name either (TestNames stores the first five as names).
var hostile = append([]string{
	"'; drop table api_tokens; --",
	`"; DELETE FROM api_tokens WHERE "1"="1`,
	"%", "_", `\`,
}, badNames...)

// badNames are not token names: control and format characters, blank,
// too long.
var badNames = []string{
	"\u202eevil", "a\u0000b", "a\nb", "\x7f", "\u200b", "\u00a0x\u00a0y",
	"\t\n ",
	"<script>alert(1)</script>\u0007",
	strings.Repeat("a", 65),
	strings.Repeat("é", 65),
	strings.Repeat("a", 10*1024),
	strings.Repeat("😀", 5*1024),
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

type badCase struct {
	method, body string
	code         int
}

// badCases are calls by ann that must be refused with a 4xx and store
// nothing. mine is one of ann's tokens, theirs one of bob's.
func badCases(mine, theirs string) []badCase {
	var cs []badCase
	add := func(method string, code int, bodies ...string) {
		for _, b := range bodies {
			cs = append(cs, badCase{"/v1/api-tokens/" + method, b, code})
		}
	}
	const invalid = rpc.CodeInvalidParams
	all := []string{"read", "create", "delete", "set-enabled", "get-permissions", "set-permissions", "update-permissions"}
	for _, m := range all {
		add(m, rpc.CodeParseError, `[`, `{"a":`, `["1",]`, `[1 2]`)
		add(m, invalid, `[1, 2, 3, 4, 5]`)
	}

	add("read", invalid, `[1]`, `["x"]`, `[[]]`, `[true]`, `[{"where":{"id":"1"}}, null]`)

	add("create", invalid, `[]`, `[null]`, `[1]`, `[true]`, `[{}]`, `[["ci"]]`, `[{"name":"ci"}]`, `["ci", "extra"]`, `["ci", null]`)
	for _, h := range append(badNames, "", " ") {
		add("create", 400, `[`+js(h)+`]`)
	}
	// Bytes that are not UTF-8 never reach the method: the body is not JSON.
	add("create", rpc.CodeParseError, "[\"\xff\xfe\"]", "[\"ci\xc0\"]")
	add("create", 409, `["taken"]`)
	add("create", rpc.CodeTooLarge, `[`+js(strings.Repeat("a", 2<<20))+`]`)

	withID := map[string]string{ // method -> the parameters after token_id
		"delete": ``, "set-enabled": `, false`, "get-permissions": ``,
		"set-permissions": `, {}`, "update-permissions": `, {"reports": false}`,
	}
	for m, rest := range withID {
		add(m, invalid, `[]`, `[null`+rest+`]`, `[`+mine+rest+`]`, `[["`+mine+`"]`+rest+`]`, `[{"id":"`+mine+`"}`+rest+`]`, `[true`+rest+`]`, `[1.5`+rest+`]`)
		ids := append([]string{"", "abc", "1e3", "-5", "+5", " 1", "1 ", "0x10", "１", "99999999999999999999", mine + "; DROP TABLE api_tokens"}, hostile...)
		for _, id := range ids {
			add(m, 400, `[`+js(id)+rest+`]`)
		}
		add(m, 404, `["0"`+rest+`]`, `["999999"`+rest+`]`, `["9223372036854775807"`+rest+`]`, `["`+theirs+`"`+rest+`]`, `["00`+theirs+`"`+rest+`]`)
	}
	add("set-enabled", invalid, `["`+mine+`"]`, `["`+mine+`", null]`, `["`+mine+`", "false"]`, `["`+mine+`", 0]`, `["`+mine+`", false, 1]`)

	for _, m := range []string{"set-permissions", "update-permissions"} {
		add(m, invalid,
			`["`+mine+`"]`, `["`+mine+`", null]`, `["`+mine+`", []]`, `["`+mine+`", ["admin"]]`, `["`+mine+`", "admin"]`,
			`["`+mine+`", {"admin": "yes"}]`, `["`+mine+`", {"admin": 1}]`, `["`+mine+`", {"admin": null}]`,
			`["`+mine+`", {"admin": {"x": true}}]`, `["`+mine+`", {}, 1]`,
		)
		for _, name := range append([]string{"root", "user", "guest", "*", "", "ADMIN", " admin", strings.Repeat("x", 5000)}, hostile...) {
			add(m, 400, `["`+mine+`", {`+js(name)+`: true}]`)
		}
		add(m, 400, `["`+mine+`", {"billing": true}]`, `["`+mine+`", {"admin": true, "billing": true}]`)
	}
	return cs
}

// Every method, given wrong types, missing, extra, hostile or huge
// parameters, or ids it may not touch, answers a 4xx and stores nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		mine := e.newToken(t, c.ann, "taken")
		theirs := e.newToken(t, c.bob, "bob's")
		e.ok(t, c.ann, "/v1/api-tokens/set-permissions", mine.ID, map[string]bool{"reports": true})
		before := e.snapshot(t)
		for _, bc := range badCases(mine.ID, theirs.ID) {
			a := e.do(t, c.ann, bc.method, bc.body)
			body := bc.body
			if len(body) > 200 {
				body = body[:200] + "…"
			}
			if assert.Equal(t, bc.code, a.Code, "%s %s: %.300s", bc.method, body, a.Raw) {
				assert.Equal(t, rpc.HTTPStatus(bc.code), a.HTTP, a.Raw)
			}
			assert.LessOrEqual(t, len(a.Raw), 1024, "a refusal's message stays short: %s %s", bc.method, body)
		}
		assert.Equal(t, before, e.snapshot(t), "nothing stored")
		e.ok(t, mine.Token, "/v1/profile/read")
		e.ok(t, theirs.Token, "/v1/profile/read")
	})
}

// Guests are refused every method; a void create is refused, since its
// answer is the only copy of the token.
func TestRefusals(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		c := newCast(t, e)
		tok := e.newToken(t, c.ann, "ci")
		before := e.snapshot(t)
		for _, call := range [][]any{
			{"/v1/api-tokens/read"},
			{"/v1/api-tokens/create", "guest's"},
			{"/v1/api-tokens/delete", tok.ID},
			{"/v1/api-tokens/set-enabled", tok.ID, false},
			{"/v1/api-tokens/get-permissions", tok.ID},
			{"/v1/api-tokens/set-permissions", tok.ID, map[string]bool{}},
			{"/v1/api-tokens/update-permissions", tok.ID, map[string]bool{}},
		} {
			e.refused(t, rpc.CodeInsufficientPermissions, "", call[0].(string), call[1:]...)
		}
		a := e.do(t, c.ann, "/v1/api-tokens/create", `["void"]`, "X-API-Void-Call", "true")
		assert.Equal(t, 400, a.Code, a.Raw)
		assert.Equal(t, before, e.snapshot(t))
	})
}
