package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// storedSetting reads a settings row as the database holds it.
func storedSetting(t *testing.T, dsn, name string) string {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	require.NoError(t, err)
	defer db.Close()
	var v string
	require.NoError(t, db.NewSelect().Table("authrpc_settings").Column("value").Where("name = ?", name).Scan(ctx, &v))
	return v
}

// The SMTP password is stored encrypted under AUTHRPC_SETTINGS_KEY, and
// reencrypt-settings moves it to a new key during a rotation.
func TestSettingsKeyFromEnvironment(t *testing.T) {
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": storagetest.SQLiteDSN, "postgres": storagetest.PostgresDSN} {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			oldKey, newKey := settings.GenerateKey(), settings.GenerateKey()
			const password = "smtp-password-at-rest"

			a, err := newApp(context.Background(), config{
				DB: dsn, RootPassword: "root-password-for-tests", SettingsKey: oldKey,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard,
			})
			require.NoError(t, err)
			srv := httptest.NewServer(a.Handler())
			ta := &testApp{app: a, url: srv.URL + "/api"}
			tok := ta.signin(t, "root", "root-password-for-tests")
			r := ta.call(t, tok, "/v1/admin/settings/update", `[{"smtp_hostname":"smtp.example.com","smtp_password":"`+password+`"}]`)
			require.Equal(t, 200, r.code(), r.Raw)
			assert.Contains(t, r.Raw, `"smtp_password_set":true`)
			srv.Close()
			require.NoError(t, a.Shutdown(context.Background()))
			require.NoError(t, a.Close())
			oldKeys, _ := settings.ParseKeyring(oldKey)
			v := storedSetting(t, dsn, "smtp_password")
			assert.NotContains(t, v, password)
			assert.True(t, strings.HasPrefix(v, "enc:v1:"+oldKeys.KeyID()+":"), v)

			reencrypt := func(key, old string) (string, error) {
				t.Setenv(envSettingsKey, key)
				t.Setenv(envSettingsOldKeys, old)
				var stdout, stderr bytes.Buffer
				err := run(context.Background(), []string{"-db", dsn, "reencrypt-settings"}, &stdout, &stderr)
				return stdout.String(), err
			}
			_, err = reencrypt("", "")
			assert.ErrorContains(t, err, envSettingsKey)
			_, err = reencrypt(newKey, "")
			assert.ErrorIs(t, err, settings.ErrUnknownKey, "without the old key nothing decrypts")
			out, err := reencrypt(newKey, " "+settings.GenerateKey()+", "+oldKey)
			require.NoError(t, err)
			assert.Equal(t, "secret settings re-encrypted: 1\n", out)
			newKeys, _ := settings.ParseKeyring(newKey)
			assert.True(t, strings.HasPrefix(storedSetting(t, dsn, "smtp_password"), "enc:v1:"+newKeys.KeyID()+":"))

			b, err := newApp(context.Background(), config{
				DB: dsn, RootPassword: "root-password-for-tests", SettingsKey: newKey,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard,
			})
			require.NoError(t, err)
			defer func() {
				require.NoError(t, b.Shutdown(context.Background()))
				require.NoError(t, b.Close())
			}()
			cfg, err := b.settings.SMTP(context.Background())
			require.NoError(t, err)
			assert.Equal(t, password, cfg.Password)
		})
	}
}
