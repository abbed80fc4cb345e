package settings_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/mailer"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage/storagetest"
)

const defaultsJSON = `{"app_url":"","smtp_from":"","smtp_hostname":"","smtp_port":587,"smtp_username":"",
	"smtp_password_set":false,"signup_enabled":false,
	"no_new_signin_mail":false,"no_password_changed_mail":false,"no_email_changed_mail":false,"oauth_providers":{},"oauth_redirect_urls":[],"oauth_link_verified_email":false}`

func TestReadDefaults(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, settings.Options{})
		assert.JSONEq(t, defaultsJSON, e.ok(t, "read", ``))

		ctx := context.Background()
		s, err := e.mod.Get(ctx)
		require.NoError(t, err)
		assert.Equal(t, settings.Settings{SMTPPort: 587}, s)
		open, err := e.mod.SignupEnabled(ctx)
		require.NoError(t, err)
		assert.False(t, open, "signup is closed until an administrator opens it")
		_, err = e.mod.AppURL(ctx)
		assert.ErrorIs(t, err, settings.ErrAppURLNotSet)
		assert.Error(t, s.Extra(&struct{}{}), "no host fields declared")
	})
}

func TestOnlyAdminsCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.SQLite(t), settings.Options{})
	for _, m := range []struct{ method, body string }{{"read", ``}, {"update", `[{"signup_enabled":true}]`}, {"test-smtp", `[{}]`}} {
		for _, token := range []string{"", e.plain, "ses_not-a-token"} {
			a := e.call(t, token, m.method, m.body)
			assert.Equal(t, rpc.CodeInsufficientPermissions, a.Code, "%s: %s", m.method, a.Raw)
		}
	}
	assert.JSONEq(t, defaultsJSON, e.ok(t, "read", ``), "nothing changed")
}

func TestCustomPermissionAndDefaults(t *testing.T) {
	t.Parallel()
	reg := quietRegistry()
	_, err := settings.Mount(context.Background(), reg, storagetest.SQLite(t), settings.Options{Permission: "settings-admin"})
	require.ErrorContains(t, err, `permission "settings-admin" is not declared`)
	assert.Empty(t, reg.Methods())
	require.NoError(t, reg.Permissions().Declare(auth.Permission{Name: "settings-admin"}))
	mod, err := settings.Mount(context.Background(), reg, storagetest.SQLite(t), settings.Options{
		Permission: "settings-admin",
		Defaults:   &settings.Settings{AppURL: "https://app.example.com", SMTPPort: 465, SignupEnabled: true},
	})
	require.NoError(t, err)
	open, err := mod.SignupEnabled(context.Background())
	require.NoError(t, err)
	assert.True(t, open, "the host's defaults replace the built-in ones")
	u, err := mod.AppURL(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "https://app.example.com", u)
	for _, m := range reg.Methods() {
		assert.Equal(t, []string{"settings-admin"}, m.Permissions, m.ID)
	}

	_, err = settings.Mount(context.Background(), quietRegistry(), storagetest.SQLite(t), settings.Options{
		Defaults: &settings.Settings{AppURL: "ftp://x"},
	})
	assert.ErrorContains(t, err, "app_url")
}

func TestUpdatePartial(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, settings.Options{})
		ctx := context.Background()

		got := e.ok(t, "update", `[{"app_url":"https://app.example.com/base","signup_enabled":true}]`)
		want := `{"app_url":"https://app.example.com/base","smtp_from":"","smtp_hostname":"","smtp_port":587,"smtp_username":"",
			"smtp_password_set":false,"signup_enabled":true,
	"no_new_signin_mail":false,"no_password_changed_mail":false,"no_email_changed_mail":false,"oauth_providers":{},"oauth_redirect_urls":[],"oauth_link_verified_email":false}`
		assert.JSONEq(t, want, got, "update answers the settings as read does")
		assert.JSONEq(t, want, e.ok(t, "read", ``))

		// Readers in this process see it at once.
		open, err := e.mod.SignupEnabled(ctx)
		require.NoError(t, err)
		assert.True(t, open)
		u, err := e.mod.AppURL(ctx)
		require.NoError(t, err)
		assert.Equal(t, "https://app.example.com/base", u)

		got = e.ok(t, "update", `{"smtp_hostname":"smtp.example.com","smtp_port":2525,"smtp_username":"mailer","smtp_password":"pw-1","smtp_from":"Example <noreply@example.com>"}`)
		assert.JSONEq(t, `{"app_url":"https://app.example.com/base","smtp_from":"Example <noreply@example.com>","smtp_hostname":"smtp.example.com",
			"smtp_port":2525,"smtp_username":"mailer","smtp_password_set":true,"signup_enabled":true,
	"no_new_signin_mail":false,"no_password_changed_mail":false,"no_email_changed_mail":false,"oauth_providers":{},"oauth_redirect_urls":[],"oauth_link_verified_email":false}`, got)
		cfg, err := e.mod.SMTP(ctx)
		require.NoError(t, err)
		assert.Equal(t, "smtp.example.com", cfg.Host)
		assert.Equal(t, 2525, cfg.Port)
		assert.Equal(t, "mailer", cfg.Username)
		assert.Equal(t, "pw-1", cfg.Password)
		assert.Equal(t, "Example <noreply@example.com>", cfg.From)

		// An empty object changes nothing; empty strings clear.
		assert.JSONEq(t, got, e.ok(t, "update", `[{}]`))
		got = e.ok(t, "update", `[{"smtp_password":"","app_url":"","signup_enabled":false}]`)
		assert.JSONEq(t, `{"app_url":"","smtp_from":"Example <noreply@example.com>","smtp_hostname":"smtp.example.com",
			"smtp_port":2525,"smtp_username":"mailer","smtp_password_set":false,"signup_enabled":false,
	"no_new_signin_mail":false,"no_password_changed_mail":false,"no_email_changed_mail":false,"oauth_providers":{},"oauth_redirect_urls":[],"oauth_link_verified_email":false}`, got)

		// What is stored outlives the process.
		fresh := newEnv(t, db, settings.Options{})
		assert.JSONEq(t, got, fresh.ok(t, "read", ``))
	})
}

func TestUpdateRefusesBadValues(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return `"` + strings.Repeat("a", n) + `"` }
	bad := map[string][]string{
		"app_url": {`"example.com"`, `"ftp://example.com"`, `"https://user:pw@example.com"`, `"https://example.com/?a=1"`,
			`"https://example.com/#top"`, `"https://example.com/?"`, `"https://"`, `"javascript:alert(1)"`, `"https://exa mple.com"`,
			`"https://example.com/\\evil"`, `"https://example.com/\u0000"`, `"//example.com"`, `"https://example.com/` + strings.Repeat("a", 3000) + `"`,
			`1`, `true`, `null`, `[]`, `{}`},
		"smtp_from": {`"nobody"`, `"a@example.com, b@example.com"`, `"Ann <ann@example.com"`, `"ann@example.com\r\nBcc: eve@example.com"`,
			`"` + strings.Repeat("a", 600) + `@example.com"`, `5`, `null`},
		"smtp_hostname": {`"smtp example.com"`, `"-smtp.example.com"`, `"smtp..example.com"`, `"[::1]"`, `"smtp.example.com:25"`,
			`"fe80::1%eth0"`, `"smtp.example.com/x"`, `"ex\u00e4mple.com"`, long(300), `"` + strings.Repeat("a", 64) + `.com"`, `1`, `null`},
		"smtp_port":      {`-1`, `65536`, `1.5`, `"25"`, `null`, `1e9`, `true`},
		"smtp_username":  {`"a\u0000b"`, `"a\nb"`, long(600), `1`, `null`},
		"smtp_password":  {`"p\nq"`, `"p\u0000q"`, long(2000), `1`, `null`, `false`},
		"signup_enabled": {`"yes"`, `1`, `null`, `"true"`},
	}
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, settings.Options{})
		for key, values := range bad {
			for _, v := range values {
				a := e.refused(t, rpc.CodeInvalidParams, "update", `[{"`+key+`":`+v+`}]`)
				assert.Equal(t, 400, a.HTTP)
				assert.Contains(t, a.Message, `parameter 1 "settings"`, a.Raw)
				assert.Contains(t, a.Message, key, a.Raw)
				assert.False(t, a.Exception)
			}
		}
		// A bad field spoils the whole update.
		e.refused(t, rpc.CodeInvalidParams, "update", `[{"signup_enabled":false,"smtp_port":-1}]`)
		assert.JSONEq(t, defaultsJSON, e.ok(t, "read", ``), "nothing was stored")

		good := map[string][]string{
			"app_url":       {`"https://app.example.com"`, `"http://localhost:8080/app/"`, `"HTTPS://APP.EXAMPLE.COM/x"`, `"https://[::1]:8443"`, `""`},
			"smtp_from":     {`"noreply@example.com"`, `"Example <noreply@example.com>"`, `"\"Ex, Ample\" <a@example.com>"`, `"=?utf-8?q?J=C3=B6rg?= <j@example.com>"`, `""`},
			"smtp_hostname": {`"smtp.example.com"`, `"smtp.example.com."`, `"127.0.0.1"`, `"::1"`, `"mail_relay.internal"`, `"localhost"`, `""`},
			"smtp_port":     {`0`, `1`, `465`, `65535`},
		}
		for key, values := range good {
			for _, v := range values {
				got := e.ok(t, "update", `[{"`+key+`":`+v+`}]`)
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(got), &m))
				var want any
				require.NoError(t, json.Unmarshal([]byte(v), &want))
				assert.Equal(t, want, m[key], key)
			}
		}
	})
}

func TestUpdateRefusesUnknownKeysAndBadShapes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.SQLite(t), settings.Options{})
	for _, body := range []string{
		`[{"smtp_pasword":"x"}]`, `[{"smtp_password_set":true}]`, `[{"app_url":"https://a.example","admin":true}]`,
		`[{"__proto__":{"x":1}}]`, `["settings"]`, `[[]]`, `[null]`, `[]`, ``, `[{}, {}]`, `[1]`,
		`{"jsonrpc":"2.0","method":"/v1/admin/settings/update","params":{"settings":{"nope":1}},"id":1}`,
	} {
		a := e.refused(t, rpc.CodeInvalidParams, "update", body)
		assert.Equal(t, 400, a.HTTP)
	}
	a := e.refused(t, rpc.CodeInvalidParams, "update", `[{"smtp_pasword":"x"}]`)
	assert.Contains(t, a.Message, "smtp_pasword")
	e.refused(t, rpc.CodeParseError, "update", `[{"app_url":]`)
	assert.JSONEq(t, defaultsJSON, e.ok(t, "read", ``))
	assert.NotContains(t, e.logs.String(), "level=ERROR")
}

func TestHostileStrings(t *testing.T) {
	t.Parallel()
	hostile := []string{
		`Robert'); DROP TABLE authrpc_settings;--`,
		`"quoted" \ back\slash`,
		`<script>alert(1)</script>`,
		"emoji 😀 and ünïcödé and 漢字",
		"\u202eright-to-left",
		`%s %d %v {{.}} ${x} $(rm -rf /)`,
		strings.Repeat("x", 512),
	}
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, settings.Options{})
		for _, s := range hostile {
			body, err := json.Marshal([]map[string]string{{"smtp_username": s, "smtp_password": s}})
			require.NoError(t, err)
			var got struct {
				Username    string `json:"smtp_username"`
				PasswordSet bool   `json:"smtp_password_set"`
			}
			require.NoError(t, json.Unmarshal([]byte(e.ok(t, "update", string(body))), &got))
			assert.Equal(t, s, got.Username)
			assert.True(t, got.PasswordSet)
			s2, err := e.mod.Get(context.Background())
			require.NoError(t, err)
			assert.Equal(t, s, s2.SMTPPassword, "stored as given")
		}
		// Bytes that are not UTF-8 are refused before the method runs, and
		// nothing changes; a lone surrogate escape arrives as U+FFFD, never as
		// bytes a database refuses.
		before, err := e.mod.Get(context.Background())
		require.NoError(t, err)
		e.refused(t, rpc.CodeParseError, "update", "[{\"smtp_username\":\"a\xffb\"}]")
		s, err := e.mod.Get(context.Background())
		require.NoError(t, err)
		assert.Equal(t, before.SMTPUsername, s.SMTPUsername)
		e.ok(t, "update", "[{\"smtp_username\":\"a\\ud800b\"}]")
		s, err = e.mod.Get(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "a\ufffdb", s.SMTPUsername)
		fresh := newEnv(t, db, settings.Options{})
		assert.Equal(t, e.ok(t, "read", ``), fresh.ok(t, "read", ``))
	})
}

func TestChangingHostnameClearsPassword(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, settings.Options{})
		set := func(body string) bool {
			var got struct {
				Set bool `json:"smtp_password_set"`
			}
			require.NoError(t, json.Unmarshal([]byte(e.ok(t, "update", body)), &got))
			return got.Set
		}
		assert.True(t, set(`[{"smtp_hostname":"smtp.example.com","smtp_password":"pw"}]`))
		assert.True(t, set(`[{"smtp_hostname":"SMTP.example.com"}]`), "the same host")
		assert.True(t, set(`[{"smtp_port":25,"smtp_username":"other"}]`), "same host, other account")
		assert.False(t, set(`[{"smtp_hostname":"smtp.attacker.example"}]`), "another host: the password stays behind")
		assert.True(t, set(`[{"smtp_hostname":"smtp2.example.com","smtp_password":"pw2"}]`), "a new host with its password")
		s, err := e.mod.Get(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "pw2", s.SMTPPassword)
	})
}

// Branding is a host's own settings.
type Branding struct {
	SiteName   string   `json:"site_name" jsonschema:"minLength=1,maxLength=100"`
	Theme      string   `json:"theme" jsonschema:"enum=light,enum=dark"`
	MaxUploads int      `json:"max_uploads" jsonschema:"minimum=0,maximum=100"`
	Banner     *string  `json:"banner,omitempty"`
	Languages  []string `json:"languages,omitempty"`
	Internal   string   `json:"-"`
}

func TestHostFields(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		opts := settings.Options{Extra: &Branding{SiteName: "Acme", Theme: "light", MaxUploads: 5}}
		e := newEnv(t, db, opts)
		const builtins = `"app_url":"","smtp_from":"","smtp_hostname":"","smtp_port":587,"smtp_username":"","smtp_password_set":false,"signup_enabled":false,"no_new_signin_mail":false,"no_password_changed_mail":false,"no_email_changed_mail":false,"oauth_providers":{},"oauth_redirect_urls":[],"oauth_link_verified_email":false`
		read := e.ok(t, "read", ``)
		assert.Equal(t, `{`+builtins+`,"site_name":"Acme","theme":"light","max_uploads":5}`, read,
			"host fields follow the built-in ones, in the struct's order, with their defaults")

		got := e.ok(t, "update", `[{"theme":"dark","languages":["en","de"],"smtp_port":2525}]`)
		assert.JSONEq(t, `{`+strings.Replace(builtins, "587", "2525", 1)+`,"site_name":"Acme","theme":"dark","max_uploads":5,"languages":["en","de"]}`, got)

		s, err := e.mod.Get(context.Background())
		require.NoError(t, err)
		var b Branding
		require.NoError(t, s.Extra(&b))
		assert.Equal(t, Branding{SiteName: "Acme", Theme: "dark", MaxUploads: 5, Languages: []string{"en", "de"}}, b)

		for _, body := range []string{
			`[{"theme":"blue"}]`, `[{"site_name":""}]`, `[{"max_uploads":101}]`, `[{"max_uploads":1.5}]`,
			`[{"languages":"en"}]`, `[{"languages":[1]}]`, `[{"Internal":"x"}]`, `[{"internal":"x"}]`, `[{"banner":null}]`,
		} {
			e.refused(t, rpc.CodeInvalidParams, "update", body)
		}
		got = e.ok(t, "update", `[{"banner":"Sale <b>today</b>"}]`)
		assert.Contains(t, got, `"banner":"Sale \u003cb\u003etoday\u003c/b\u003e"`)

		// Stored host fields outlive the process; a stored key that no field
		// knows any more is ignored.
		_, err = db.NewInsert().Model(&map[string]any{"name": "retired_field", "value": `1`, "updated_at": "2026-01-01 00:00:00"}).
			TableExpr("authrpc_settings").Exec(context.Background())
		require.NoError(t, err)
		fresh := newEnv(t, db, opts)
		assert.Equal(t, got, fresh.ok(t, "read", ``))
	})
}

func TestHostFieldsInTheSchema(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storagetest.SQLite(t), settings.Options{Extra: Branding{}})
	var update, test rpc.ParamInfo
	for _, m := range e.reg.Methods() {
		switch m.ID {
		case "/v1/admin/settings/read":
			assert.Empty(t, m.Params)
			assert.Equal(t, "Read application settings", m.Title)
		case "/v1/admin/settings/update":
			require.Len(t, m.Params, 1)
			update = m.Params[0]
			assert.Equal(t, "Update application settings", m.Title)
		case "/v1/admin/settings/test-smtp":
			require.Len(t, m.Params, 1)
			test = m.Params[0]
			assert.Equal(t, "Test SMTP server settings", m.Title)
		}
	}
	assert.Equal(t, "settings", update.Name)
	assert.False(t, update.Optional)
	assert.Equal(t, "Application settings object.", update.Description)
	raw, err := json.Marshal(update.Schema)
	require.NoError(t, err)
	var s struct {
		Type       string                     `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
		Additional bool                       `json:"additionalProperties"`
	}
	require.NoError(t, json.Unmarshal(raw, &s))
	assert.Equal(t, "object", s.Type)
	assert.Empty(t, s.Required, "every field is optional in an update")
	assert.False(t, s.Additional)
	for _, k := range []string{"app_url", "smtp_from", "smtp_hostname", "smtp_port", "smtp_username", "smtp_password", "signup_enabled", "site_name", "theme", "max_uploads", "banner", "languages"} {
		assert.Contains(t, s.Properties, k)
	}
	assert.JSONEq(t, `{"type":"string","enum":["light","dark"]}`, string(s.Properties["theme"]))

	assert.Equal(t, "settings", test.Name)
	assert.False(t, test.Optional)
	raw, err = json.Marshal(test.Schema)
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"object","properties":{"smtp_hostname":{"type":"string"},"smtp_port":{"type":"integer","minimum":0,"maximum":65535},
		"smtp_username":{"type":"string"},"smtp_password":{"type":"string"}},"required":[],"additionalProperties":false}`, string(raw),
		"as the API v1 reference gives it")

	var md strings.Builder
	require.NoError(t, e.reg.WriteMarkdown(&md))
	assert.Contains(t, md.String(), "## Application settings")
	assert.Contains(t, md.String(), `api.call( "/v1/admin/settings/update", settings );`)
	assert.Contains(t, md.String(), `api.call( "/v1/admin/settings/test-smtp", settings );`)
}

func TestBadHostFields(t *testing.T) {
	t.Parallel()
	for _, extra := range []any{
		"a string",
		42,
		&struct {
			AppURL string `json:"app_url"`
		}{},
		struct {
			Set bool `json:"smtp_password_set"`
		}{},
	} {
		_, err := settings.Mount(context.Background(), quietRegistry(), storagetest.SQLite(t), settings.Options{Extra: extra})
		assert.Error(t, err, "%T", extra)
	}
}

func TestConcurrentPartialUpdates(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, settings.Options{Extra: &Branding{Theme: "light"}})
		// A second instance on the same database.
		other := newEnv(t, db, settings.Options{Extra: &Branding{Theme: "light"}})
		const n = 15
		var wg sync.WaitGroup
		fail := make(chan string, 4*n)
		update := func(x *env, body string) {
			defer wg.Done()
			a := x.call(t, x.admin, "update", body)
			if a.Code != 200 {
				fail <- a.Raw
			}
		}
		for i := range n {
			wg.Add(4)
			go update(e, fmt.Sprintf(`[{"smtp_username":"user-%d"}]`, i))
			go update(e, fmt.Sprintf(`[{"smtp_port":%d}]`, 1000+i))
			go update(other, fmt.Sprintf(`[{"max_uploads":%d}]`, i))
			go update(other, fmt.Sprintf(`[{"app_url":"https://app%d.example.com"}]`, i))
		}
		wg.Wait()
		close(fail)
		for raw := range fail {
			t.Error(raw)
		}

		require.NoError(t, e.mod.Reload(context.Background()))
		require.NoError(t, other.mod.Reload(context.Background()))
		var got struct {
			Username   string `json:"smtp_username"`
			Port       int    `json:"smtp_port"`
			AppURL     string `json:"app_url"`
			MaxUploads int    `json:"max_uploads"`
		}
		read := e.ok(t, "read", ``)
		require.NoError(t, json.Unmarshal([]byte(read), &got))
		assert.Regexp(t, `^user-\d+$`, got.Username, "every field written is kept")
		assert.GreaterOrEqual(t, got.Port, 1000)
		assert.Regexp(t, `^https://app\d+\.example\.com$`, got.AppURL)
		assert.Equal(t, read, other.ok(t, "read", ``), "both instances agree after a reload")
	})
}

func TestUpdatesAreSeenInOrder(t *testing.T) {
	t.Parallel()
	// Within one process the last update to commit is the one in memory.
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, settings.Options{})
		const n = 20
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.call(t, e.admin, "update", fmt.Sprintf(`[{"smtp_port":%d}]`, i+1))
			}()
		}
		wg.Wait()
		inMemory := e.ok(t, "read", ``)
		require.NoError(t, e.mod.Reload(context.Background()))
		assert.Equal(t, inMemory, e.ok(t, "read", ``))
	})
}

func TestReloadSeesAnotherInstance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		a := newEnv(t, db, settings.Options{})
		b := newEnv(t, db, settings.Options{})
		a.ok(t, "update", `[{"signup_enabled":true}]`)

		open, err := b.mod.SignupEnabled(context.Background())
		require.NoError(t, err)
		assert.False(t, open, "b has not reloaded yet")
		require.NoError(t, b.mod.Reload(context.Background()))
		open, err = b.mod.SignupEnabled(context.Background())
		require.NoError(t, err)
		assert.True(t, open)
	})
}

func quietRegistry() *rpc.Registry {
	return rpc.New(rpc.Options{Logger: slog.New(slog.DiscardHandler), Permissions: auth.NewPermissions(auth.Permission{Name: "admin"})})
}

// The security notices are on until a setting turns one off.
func TestSecurityMail(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, settings.Options{})
		ctx := context.Background()
		on := func(template string) bool {
			ok, err := e.mod.SecurityMail(ctx, template)
			require.NoError(t, err)
			return ok
		}
		for _, tpl := range []string{mailer.TemplateNewSignin, mailer.TemplatePasswordChanged, mailer.TemplateEmailChanged, mailer.TemplateConfirmEmail} {
			assert.True(t, on(tpl), tpl)
		}
		e.ok(t, "update", `[{"no_new_signin_mail":true,"no_email_changed_mail":true}]`)
		assert.False(t, on(mailer.TemplateNewSignin))
		assert.True(t, on(mailer.TemplatePasswordChanged))
		assert.False(t, on(mailer.TemplateEmailChanged))
		assert.True(t, on(mailer.TemplateConfirmEmail), "not a notice")
		a := e.c.As(e.admin).Call(t, "/v1/admin/settings/update", map[string]any{"no_password_changed_mail": "yes"})
		assert.Equal(t, rpc.CodeInvalidParams, a.Code, a.Raw)
	})
}
