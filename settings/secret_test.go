package settings_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/authrpc/authrpc/mailer/mailertest"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// Vault is a host's settings struct with a secret field of its own.
type Vault struct {
	Region string `json:"region"`
	APIKey string `json:"api_key" settings:"secret"`
}

const hostSecret = "host-API-key-that-must-never-show"

func newKeys(t *testing.T, current string, old ...string) *settings.Keyring {
	t.Helper()
	k, err := settings.ParseKeyring(current, old...)
	require.NoError(t, err)
	return k
}

// storedValue reads a setting's row as the database holds it.
func storedValue(t testing.TB, db *bun.DB, name string) string {
	t.Helper()
	var v string
	require.NoError(t, db.NewSelect().Table("authrpc_settings").Column("value").
		Where("name = ?", name).Scan(context.Background(), &v))
	return v
}

func setStoredValue(t *testing.T, db *bun.DB, name, value string) {
	t.Helper()
	_, err := db.NewUpdate().Table("authrpc_settings").Set("value = ?", value).
		Where("name = ?", name).Exec(context.Background())
	require.NoError(t, err)
}

// Before Options.Keys the row held the password itself ("\"Sm7p-…\"");
// with a key it holds only a sealed value, and every use still works.
func TestSecretsEncryptedAtRest(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		srv := mailertest.NewServer(t, mailertest.Options{Mode: mailertest.StartTLS, Username: smtpUser, Password: smtpPassword})
		keys := newKeys(t, settings.GenerateKey())
		opts := settings.Options{Keys: keys, Mailer: srv.MailerOptions(), Extra: &Vault{Region: "eu"}}
		e := newEnv(t, db, opts)
		e.store(t, srv, smtpPassword)
		got := e.ok(t, "update", `[{"api_key":"`+hostSecret+`","region":"us"}]`)
		assert.NotContains(t, got, hostSecret, "a secret host field is write-only")
		assert.NotContains(t, got, "api_key")
		assert.Contains(t, got, `"smtp_password_set":true`)
		assert.Contains(t, got, `"region":"us"`)

		for name, secret := range map[string]string{"smtp_password": smtpPassword, "api_key": hostSecret} {
			v := storedValue(t, db, name)
			assert.NotContains(t, v, secret, name)
			assert.True(t, strings.HasPrefix(v, "enc:v1:"+keys.KeyID()+":"), "%s is stored as %q", name, v)
		}
		assert.Equal(t, `"us"`, storedValue(t, db, "region"), "other settings stay plain")

		// Every use of the secrets still works, in this process and the next.
		e.ok(t, "test-smtp", `[{}]`)
		fresh := newEnv(t, db, opts)
		assert.Equal(t, e.ok(t, "read", ``), fresh.ok(t, "read", ``))
		fresh.ok(t, "test-smtp", `[{}]`)
		s, err := fresh.mod.Get(context.Background())
		require.NoError(t, err)
		assert.Equal(t, smtpPassword, s.SMTPPassword)
		var v Vault
		require.NoError(t, s.Extra(&v))
		assert.Equal(t, Vault{Region: "us", APIKey: hostSecret}, v)
		cfg, err := fresh.mod.SMTP(context.Background())
		require.NoError(t, err)
		assert.Equal(t, smtpPassword, cfg.Password)

		// Equal secrets are sealed apart, and short ones do not tell their length.
		e.ok(t, "update", `[{"smtp_password":"a"}]`)
		short := storedValue(t, db, "smtp_password")
		e.ok(t, "update", `[{"smtp_password":"abcdefghijklmnopqrstuvwxyz"}]`)
		assert.Len(t, storedValue(t, db, "smtp_password"), len(short))
		e.ok(t, "update", `[{"smtp_password":"a"}]`)
		assert.NotEqual(t, short, storedValue(t, db, "smtp_password"))
		assert.NotContains(t, e.logs.String(), smtpPassword)
		assert.NotContains(t, e.logs.String(), hostSecret)
	})
}

func TestWrongOrMissingKey(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		srv := mailertest.NewServer(t, mailertest.Options{Mode: mailertest.StartTLS, Username: smtpUser, Password: smtpPassword})
		right := newKeys(t, settings.GenerateKey())
		e := newEnv(t, db, settings.Options{Keys: right, Mailer: srv.MailerOptions(), Extra: &Vault{}})
		e.store(t, srv, smtpPassword)
		e.ok(t, "update", `[{"api_key":"`+hostSecret+`","signup_enabled":true}]`)
		want := e.ok(t, "read", ``)

		for name, keys := range map[string]*settings.Keyring{"wrong key": newKeys(t, settings.GenerateKey()), "no key": nil} {
			t.Run(name, func(t *testing.T) {
				w := newEnv(t, db, settings.Options{Keys: keys, Mailer: srv.MailerOptions(), Extra: &Vault{}})
				assert.Contains(t, w.logs.String(), "level=ERROR", "Mount says so")
				assert.Contains(t, w.logs.String(), "smtp_password")
				ctx := context.Background()

				_, err := w.mod.Get(ctx)
				var se *settings.SecretError
				require.ErrorAs(t, err, &se)
				assert.ErrorIs(t, err, settings.ErrUnknownKey)
				assert.Equal(t, "api_key", se.Setting, "the first, by name")
				assert.Equal(t, right.KeyID(), se.KeyID)
				assert.Contains(t, err.Error(), "smtp_password")
				_, err = w.mod.SMTP(ctx)
				require.ErrorAs(t, err, &se)
				assert.Equal(t, "smtp_password", se.Setting)

				// The rest works: read (the password is set, if unreadable),
				// signup, app_url; test-smtp says why it cannot use it.
				assert.Equal(t, want, w.ok(t, "read", ``))
				open, err := w.mod.SignupEnabled(ctx)
				require.NoError(t, err)
				assert.True(t, open)
				_, err = w.mod.AppURL(ctx)
				require.NoError(t, err)
				a := w.refused(t, rpc.CodeBadRequest, "test-smtp", `[{}]`)
				assert.Contains(t, a.Message, "does not decrypt")
				w.refused(t, rpc.CodeBadRequest, "test-smtp", `[{"smtp_hostname":"other.example.com"}]`)
				w.ok(t, "test-smtp", `[{"smtp_password":"`+smtpPassword+`"}]`)

				// An update of other fields keeps what it cannot read.
				w.ok(t, "update", `[{"region":"ap"}]`)
				_, err = w.mod.Get(ctx)
				require.ErrorIs(t, err, settings.ErrUnknownKey)
				w.ok(t, "update", `[{"region":""}]`)
				if keys != nil {
					_, err = w.mod.Reencrypt(ctx)
					require.ErrorIs(t, err, settings.ErrUnknownKey, "nothing is rewritten")
				}
				assert.NotContains(t, w.logs.String(), smtpPassword)
			})
		}

		// Storing them again under the new key heals it.
		other := newKeys(t, settings.GenerateKey())
		w := newEnv(t, db, settings.Options{Keys: other, Mailer: srv.MailerOptions(), Extra: &Vault{}})
		w.store(t, srv, smtpPassword)
		w.ok(t, "update", `[{"api_key":"new"}]`)
		s, err := w.mod.Get(context.Background())
		require.NoError(t, err)
		assert.Equal(t, smtpPassword, s.SMTPPassword)
		w.ok(t, "test-smtp", `[{}]`)
	})
}

func TestTamperedSecretsDoNotDecrypt(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		keys := newKeys(t, settings.GenerateKey())
		opts := settings.Options{Keys: keys, Extra: &Vault{}}
		e := newEnv(t, db, opts)
		e.ok(t, "update", `[{"smtp_password":"pw-1","api_key":"key-1"}]`)
		sealedPassword := storedValue(t, db, "smtp_password")

		for name, value := range map[string]string{
			"a flipped byte":         sealedPassword[:len(sealedPassword)-3] + flip(sealedPassword[len(sealedPassword)-3]) + sealedPassword[len(sealedPassword)-2:],
			"cut short":              sealedPassword[:len(sealedPassword)-10],
			"no body":                "enc:v1:" + keys.KeyID(),
			"not base64":             "enc:v1:" + keys.KeyID() + ":!!!",
			"another setting's seal": storedValue(t, db, "api_key"),
		} {
			setStoredValue(t, db, "smtp_password", value)
			require.NoError(t, e.mod.Reload(context.Background()))
			_, err := e.mod.SMTP(context.Background())
			assert.ErrorIs(t, err, settings.ErrUndecryptable, name)
		}
		setStoredValue(t, db, "smtp_password", sealedPassword)
		require.NoError(t, e.mod.Reload(context.Background()))
		cfg, err := e.mod.SMTP(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "pw-1", cfg.Password)
	})
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// A password stored in plain text before Options.Keys keeps working, and
// the next update (of any field) encrypts it.
func TestPlainSecretsAreEncryptedOnTheNextWrite(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		plain := newEnv(t, db, settings.Options{Extra: &Vault{}})
		plain.ok(t, "update", `[{"smtp_password":"pw-plain","api_key":"key-plain"}]`)
		assert.Equal(t, `"pw-plain"`, storedValue(t, db, "smtp_password"), "no key: plain text, as before")

		keys := newKeys(t, settings.GenerateKey())
		e := newEnv(t, db, settings.Options{Keys: keys, Extra: &Vault{}})
		s, err := e.mod.Get(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "pw-plain", s.SMTPPassword)
		assert.NotContains(t, e.logs.String(), "level=ERROR")

		e.ok(t, "update", `[{"region":"eu"}]`)
		for _, name := range []string{"smtp_password", "api_key"} {
			assert.True(t, strings.HasPrefix(storedValue(t, db, name), "enc:v1:"+keys.KeyID()+":"), name)
		}
		s, err = e.mod.Get(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "pw-plain", s.SMTPPassword)
		var v Vault
		require.NoError(t, s.Extra(&v))
		assert.Equal(t, Vault{Region: "eu", APIKey: "key-plain"}, v)
	})
}

// Rotation: the new key current and the old one kept to decrypt, then
// Reencrypt, then the old key dropped.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T, db *bun.DB) {
		oldKey, newKey := settings.GenerateKey(), settings.GenerateKey()
		e := newEnv(t, db, settings.Options{Keys: newKeys(t, oldKey), Extra: &Vault{}})
		e.ok(t, "update", `[{"smtp_password":"pw-1","api_key":"key-1"}]`)

		rotating := newKeys(t, newKey, oldKey)
		r := newEnv(t, db, settings.Options{Keys: rotating, Extra: &Vault{}})
		s, err := r.mod.Get(context.Background())
		require.NoError(t, err, "the old key still decrypts")
		assert.Equal(t, "pw-1", s.SMTPPassword)

		n, err := r.mod.Reencrypt(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		for _, name := range []string{"smtp_password", "api_key"} {
			assert.True(t, strings.HasPrefix(storedValue(t, db, name), "enc:v1:"+rotating.KeyID()+":"), name)
		}
		n, err = r.mod.Reencrypt(context.Background())
		require.NoError(t, err)
		assert.Zero(t, n, "nothing left under the old key")

		done := newEnv(t, db, settings.Options{Keys: newKeys(t, newKey), Extra: &Vault{}})
		s, err = done.mod.Get(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "pw-1", s.SMTPPassword)
		var v Vault
		require.NoError(t, s.Extra(&v))
		assert.Equal(t, "key-1", v.APIKey)

		_, err = newEnv(t, db, settings.Options{Keys: newKeys(t, oldKey), Extra: &Vault{}}).mod.Get(context.Background())
		assert.ErrorIs(t, err, settings.ErrUnknownKey, "the old key alone no longer reads them")
	})
}

func TestKeyring(t *testing.T) {
	t.Parallel()
	raw := make([]byte, settings.KeySize)
	for i := range raw {
		raw[i] = byte(i)
	}
	k, err := settings.NewKeyring(raw)
	require.NoError(t, err)
	assert.Regexp(t, `^[0-9a-f]{8}$`, k.KeyID())
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		p, err := settings.ParseKeyring(" "+enc.EncodeToString(raw)+"\n", "", " ")
		require.NoError(t, err)
		assert.Equal(t, k.KeyID(), p.KeyID())
	}
	other, err := settings.ParseKeyring(settings.GenerateKey(), base64.StdEncoding.EncodeToString(raw))
	require.NoError(t, err)
	assert.NotEqual(t, k.KeyID(), other.KeyID())

	for _, bad := range [][]byte{nil, raw[:16], append(raw, 0)} {
		_, err := settings.NewKeyring(bad)
		assert.ErrorContains(t, err, "current key")
		_, err = settings.NewKeyring(raw, raw, bad)
		assert.ErrorContains(t, err, "old key 2")
	}
	for _, bad := range []string{"", "  ", "not base64!", base64.StdEncoding.EncodeToString(raw[:31])} {
		_, err := settings.ParseKeyring(bad)
		assert.Error(t, err, bad)
	}
}

type embeddedSecret struct {
	Token string `json:"token" settings:"secret"`
}

func TestSecretHostFields(t *testing.T) {
	t.Parallel()
	type host struct {
		embeddedSecret
		Name string `json:"name"`
	}
	e := newEnv(t, storagetest.SQLite(t), settings.Options{Keys: newKeys(t, settings.GenerateKey()), Extra: &host{}})
	got := e.ok(t, "update", `[{"token":"t-1","name":"n"}]`)
	assert.NotContains(t, got, "t-1", "an embedded struct's secret field is secret too")
	assert.True(t, strings.HasPrefix(storedValue(t, e.db, "token"), "enc:v1:"))
	assert.Equal(t, `"n"`, storedValue(t, e.db, "name"))

	type untagged struct {
		Hidden string `json:"-" settings:"secret"`
		Name   string `json:"name"`
	}
	e = newEnv(t, storagetest.SQLite(t), settings.Options{Extra: &untagged{}})
	assert.Contains(t, e.ok(t, "read", ``), `"name":""`)
}

// FuzzStoredSecret stores arbitrary text as the password's row: it reads
// as a password only when it is a plain JSON string or a seal made with the
// key, and otherwise as a typed error, never as some other password.
func FuzzStoredSecret(f *testing.F) {
	ctx := context.Background()
	keys, err := settings.ParseKeyring("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
	require.NoError(f, err)
	db := storagetest.SQLite(f)
	mod, err := settings.Mount(ctx, quietRegistry(), db, settings.Options{Keys: keys})
	require.NoError(f, err)
	// The only value ever sealed with this key: pw-1, stored plain, then sealed.
	_, err = db.NewInsert().Model(&map[string]any{"name": "smtp_password", "value": `"pw-1"`, "updated_at": "2026-01-01 00:00:00"}).
		TableExpr("authrpc_settings").Exec(ctx)
	require.NoError(f, err)
	_, err = mod.Reencrypt(ctx)
	require.NoError(f, err)
	genuine := storedValue(f, db, "smtp_password")
	for _, seed := range []string{genuine, `"plain"`, "enc:v1:", "enc:v1:" + keys.KeyID() + ":", "enc:v2:x:y",
		genuine + "A", genuine[:len(genuine)-1], `{}`, ``} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if _, err := db.NewUpdate().Table("authrpc_settings").Set("value = ?", value).Where("name = ?", "smtp_password").Exec(ctx); err != nil {
			t.Skip("not storable:", err)
		}
		require.NoError(t, mod.Reload(ctx))
		cfg, err := mod.SMTP(ctx)
		switch {
		case strings.HasPrefix(value, "enc:v1:"):
			if err == nil {
				assert.Equal(t, "pw-1", cfg.Password, "only a seal made with the key opens: %q", value)
				return
			}
			var se *settings.SecretError
			require.ErrorAs(t, err, &se, "%q", value)
			assert.True(t, errors.Is(err, settings.ErrUndecryptable) || errors.Is(err, settings.ErrUnknownKey))
			assert.Empty(t, cfg.Password)
		case err == nil && cfg.Password != "":
			var plain string
			require.NoError(t, json.Unmarshal([]byte(value), &plain), "a password from a value that is no JSON string: %q", value)
			assert.Equal(t, plain, cfg.Password)
		}
	})
}
