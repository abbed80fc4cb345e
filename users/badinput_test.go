package users_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/users"
)

// hostile are strings that are neither a user name, an email address nor a
// telegram name.
var hostile = []string{
	"'; drop table users; --",
	`"; DELETE FROM users WHERE "1"="1`,
	"%", "_", "%_%", `\`,
	"ünïcødé", "用户名字", "😀😀😀😀😀",
	"\u202eevil", "a\u0000b", "bob\n", "\x7f\x7f\x7f", " bob ",
	"<script>alert(1)</script>",
	strings.Repeat("a", 10*1024),
	strings.Repeat("é", 5*1024),
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// badCases are calls that every method must refuse with a 4xx, storing
// nothing. "bob" exists; params are raw JSON bodies.
func badCases() []struct {
	method, body string
	code         int
} {
	type c = struct {
		method, body string
		code         int
	}
	const invalid = rpc.CodeInvalidParams
	var cs []c
	add := func(method string, code int, bodies ...string) {
		for _, b := range bodies {
			cs = append(cs, c{method, b, code})
		}
	}
	admin := func(m string) string { return "/v1/admin/users/" + m }

	// Malformed JSON and wrong shapes, for every method that takes parameters.
	for _, m := range []string{admin("read"), admin("create"), admin("delete"), admin("set-enabled"), admin("set-password"),
		admin("get-permissions"), admin("set-permissions"), admin("update-permissions"), admin("suggest"), admin("set-username"),
		"/v1/profile/set-email", "/v1/profile/set-telegram-username", "/v1/session/signin", "/v1/session/signup"} {
		add(m, rpc.CodeParseError, `[`, `{"a":`, `["bob",]`)
		add(m, invalid, `[1, 2, 3, 4, 5]`)
	}
	// Methods that take none.
	for _, m := range []string{"/v1/profile/read", "/v1/session/signout"} {
		add(m, invalid, `["extra"]`)
	}

	// user_id: wrong type, missing, unknown, hostile.
	withUserID := map[string]string{ // method -> the parameters after user_id
		"delete": ``, "set-enabled": `, false`, "set-password": `, "long-enough-1"`, "get-permissions": ``,
		"set-permissions": `, {}`, "update-permissions": `, {"admin": true}`, "set-username": `, "bobby"`,
	}
	for m, rest := range withUserID {
		add(admin(m), invalid, `[]`, `[null`+rest+`]`, `[100`+rest+`]`, `[["bob"]`+rest+`]`, `[{"id":"100"}`+rest+`]`, `[true`+rest+`]`)
		add(admin(m), 404, `["nobody"`+rest+`]`, `["999999"`+rest+`]`, `["1e3"`+rest+`]`, `["-5"`+rest+`]`, `["99999999999999999999"`+rest+`]`)
		for _, h := range append(hostile, "") {
			add(admin(m), 404, `[`+js(h)+rest+`]`)
		}
	}

	// create and signup fields.
	for _, m := range []string{admin("create"), "/v1/session/signup"} {
		add(m, invalid,
			`[]`, `[null]`, `["bob"]`, `[{}]`, `[{"username": 5}]`, `[{"username": null}]`,
			`[{"username": "carol", "password": 12345678}]`,
			`[{"username": "carol", "email": ["a@b.c"]}]`,
			`[{"username": "carol", "is_root": true}]`,
			`[{"USERNAME": "carol"}]`,
		)
		for _, h := range append(hostile, "", "ab", "123456", strings.Repeat("a", 33), "-") {
			add(m, 400, `[{"username":`+js(h)+`}]`)
		}
		for _, h := range hostile {
			add(m, 400, `[{"username":"carol","email":`+js(h)+`}]`, `[{"username":"carol","telegram_name":`+js(h)+`}]`)
		}
		add(m, 400,
			`[{"username":"carol","email":"carol@"}]`, `[{"username":"carol","email":"Carol <carol@example.com>"}]`,
			`[{"username":"carol","email":"<carol@example.com>"}]`, `[{"username":"carol","email":"a@b@c"}]`,
			`[{"username":"carol","email":"`+strings.Repeat("a", 250)+`@example.com"}]`,
			`[{"username":"carol","telegram_name":"@abc"}]`, `[{"username":"carol","telegram_name":"abc-def"}]`,
			`[{"username":"carol","password":"short"}]`, `[{"username":"carol","password":""}]`,
			`[{"username":"carol","password":`+js(strings.Repeat("p", 1025))+`}]`,
		)
		add(m, 409, `[{"username":"BOB","password":"long-enough-1"}]`)
	}
	add(admin("create"), invalid,
		`[{"username": "carol", "enabled": "yes"}]`,
		`[{"username": "carol", "permissions": {"admin": "yes"}}]`,
		`[{"username": "carol", "permissions": ["admin"]}]`,
	)
	add(admin("create"), 400, `[{"username":"carol","permissions":{"`+strings.Repeat("x", 5000)+`":true}}]`)
	for _, h := range hostile {
		add(admin("create"), 400, `[{"username":"carol","permissions":{`+js(h)+`:true}}]`)
	}
	add("/v1/session/signup", invalid, `[{"username":"carol","enabled":true}]`, `[{"username":"carol","permissions":{}}]`)

	// The other admin methods' own parameters.
	add(admin("set-enabled"), invalid, `["bob"]`, `["bob", "false"]`, `["bob", 0]`, `["bob", null]`, `["bob", false, 1]`)
	add(admin("set-password"), invalid, `["bob", 12345678]`, `["bob", ["long-enough-1"]]`, `["bob", "long-enough-1", 1]`)
	add(admin("set-password"), 400, `["bob", "short"]`, `["bob", ""]`, `["bob", `+js(strings.Repeat("p", 1025))+`]`)
	for _, m := range []string{"set-permissions", "update-permissions"} {
		add(admin(m), invalid, `["bob"]`, `["bob", null]`, `["bob", []]`, `["bob", ["admin"]]`, `["bob", {"admin": 1}]`,
			`["bob", {"admin": "true"}]`, `["bob", {"admin": null}]`, `["bob", {}, 1]`)
		for _, h := range hostile {
			add(admin(m), 400, `["bob", {`+js(h)+`: true}]`)
		}
	}
	add(admin("suggest"), invalid, `[5]`, `["bob"]`, `[{"where": 5}]`, `[{"where": {"name": ["like", 5]}}]`,
		`[{"where": {"name": ["ilike", "b"]}}]`, `[{"where": {"id": ["like", "1"]}}]`, `[{"order_by": "name"}]`)
	add(admin("suggest"), 400, `[{"where":{"name":["like","a\u0000"]}}]`)
	add(admin("set-username"), invalid, `["bob"]`, `["bob", 5]`, `["bob", null]`, `["bob", "bobby", 12345678]`, `["bob", "bobby", "long-enough-1", 1]`)
	for _, h := range append(hostile, "", "12345", "ab") {
		add(admin("set-username"), 400, `["bob", `+js(h)+`]`)
	}
	add(admin("set-username"), 400, `["bob", "bobby", "short"]`)
	add(admin("set-username"), 409, `["bob", "ANN"]`, `["bob", "root"]`)
	add(admin("read"), invalid, `[5]`, `[{"where": {"search": "bob"}}]`, `[{"where": {"password_hash": ["like", "a"]}}]`,
		`[{"order_by": "password_hash"}]`, `[{"where": {"id": "1 OR 1=1"}}]`, `[{"limit": -1}]`, `[{"offset": "1"}]`)

	// Profile.
	for _, h := range hostile {
		add("/v1/profile/set-email", 400, `[`+js(h)+`]`)
		add("/v1/profile/set-telegram-username", 400, `[`+js(h)+`]`)
	}
	add("/v1/profile/set-email", invalid, `[5]`, `[["a@b.c"]]`, `[{"email": "a@b.c"}]`, `["a@b.c", 1]`)
	add("/v1/profile/set-email", 409, `["ann@example.com"]`)
	add("/v1/profile/set-telegram-username", invalid, `[5]`, `[true]`, `["tg_name", 1]`)
	add("/v1/profile/set-telegram-username", 400, `["abc"]`, `["@"]`, `["`+strings.Repeat("a", 33)+`"]`)

	// Sign-in: schema refusals, and 401 for everything that reaches the check.
	add("/v1/session/signin", invalid, `["bob"]`, `[{"username": "bob"}]`, `[{"password": "x"}]`,
		`[{"username": "bob", "password": "bob-password", "remember": true}]`, `[{"username": 5, "password": "x"}]`,
		`[{"username": "bob", "password": "bob-password"}, "admin"]`, `[{"username": "bob", "password": "bob-password"}, [5]]`)
	for _, h := range hostile {
		add("/v1/session/signin", 401, `[{"username":`+js(h)+`,"password":`+js(h)+`}]`,
			`[{"username":"bob","password":`+js(h)+`}]`)
	}
	return cs
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	run(t, func(t *testing.T, e *env) {
		s := newStaffed(t, e)
		// bob's profile methods are called as bob; admin methods as root.
		e.ok(t, s.rootTok, "/v1/admin/users/update-permissions", "ann", map[string]bool{}) // keep ann's record stable
		e.ok(t, s.adminTok, "/v1/profile/set-email", "ann@example.com")
		before := e.snapshot(t)
		cases := badCases()
		for _, c := range cases {
			token := s.rootTok
			if strings.HasPrefix(c.method, "/v1/profile/") {
				token = s.userTok
			}
			a := e.c.As(token).Post(t, c.method, c.body)
			short := c.body
			if len(short) > 80 {
				short = short[:80] + "…"
			}
			if !assert.Equal(t, c.code, a.Code, "%s %s: %s", c.method, short, truncate(a.Raw)) {
				continue
			}
			assert.Equal(t, rpc.HTTPStatus(c.code), a.HTTP)
			assert.False(t, a.Exception)
			assert.NotEmpty(t, a.Message)
			assert.Less(t, len(a.Raw), 600, "%s %s: a bad value is not echoed whole: %s", c.method, short, truncate(a.Raw))
			for _, leak := range []string{"SQL", "sql:", "bun", "pq:", "constraint", "argon2", "panic"} {
				assert.NotContains(t, a.Message, leak, "%s %s", c.method, short)
			}
		}
		t.Logf("%d bad calls refused", len(cases))
		assert.Equal(t, before, e.snapshot(t), "no bad call stored anything")
		assert.NotContains(t, e.logs.String(), "level=ERROR", "no bad call was an internal error")
	}, openSignup, func(o *users.Options) {
		o.SigninLimitPerName.Burst = -1
		o.SigninLimitPerAddr.Burst = -1
		o.SigninLimitPerNameAddr.Burst = -1
		o.SignupLimit.Burst = -1
	})
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}
