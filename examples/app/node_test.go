package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/settings"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// settingsKey seals the TOTP secret of the check's user with a second
// factor, the same on both instances.
var settingsKey = settings.GenerateKey()

// totpUser makes a user with TOTP enrolled (a code computed here), whom
// check.js signs in as: a client that knows nothing of second factors
// sees a refusal, never a session.
func totpUser(t *testing.T, a *testApp, name, password string) {
	t.Helper()
	root := a.signin(t, "root", "root-password-for-tests")
	require.Equal(t, 200, a.call(t, root, "/v1/admin/users/create", fmt.Sprintf(`[{"username":%q,"password":%q}]`, name, password)).code())
	tok := a.signin(t, name, password)
	require.Equal(t, 200, a.call(t, tok, "/v1/session/authorize", fmt.Sprintf(`[{"password":%q}]`, password)).code())
	r := a.call(t, tok, "/v1/profile/begin-totp", ``)
	require.Equal(t, 200, r.code(), r.Raw)
	var en struct {
		Secret string `json:"secret"`
	}
	require.NoError(t, json.Unmarshal(r.Result.Data, &en))
	code, err := totp.GenerateCode(en.Secret, time.Now())
	require.NoError(t, err)
	r = a.call(t, tok, "/v1/profile/confirm-totp", `["`+code+`"]`)
	require.Equal(t, 200, r.code(), r.Raw)
}

// nodeCheckEnv set to anything makes TestNodeClient fail, not skip, when
// Node or the check's dependencies are missing; .ci/run sets it after
// `npm ci` in testdata/node.
const nodeCheckEnv = "AUTHRPC_NODE_CHECK"

// The JavaScript client this wire format comes from (@softvisio/core 6.x)
// against the example app, over HTTP and WebSocket: testdata/node/check.js
// signs in, calls every module, receives settings/update, and sees "signout"
// when its session is ended from another connection; on PostgreSQL across two
// instances.
func TestNodeClient(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "node"))
	if err != nil {
		t.Fatal(err)
	}
	required := os.Getenv(nodeCheckEnv) != ""
	missing := func(what string) {
		if required {
			t.Fatalf("%s (%s is set)", what, nodeCheckEnv)
		}
		t.Skipf("%s; run `npm ci` in testdata/node (or .ci/run)", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@softvisio", "core")); err != nil {
		missing("testdata/node has no node_modules")
	}

	check := func(t *testing.T, urls ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		args := []string{"check.js", urls[0], "root-password-for-tests"}
		cmd := exec.CommandContext(ctx, node, append(args, urls[1:]...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "AUTHRPC_FACTOR_USER=tina:tina-password-1")
		out, err := cmd.CombinedOutput()
		t.Logf("node check.js:\n%s", out)
		if err != nil {
			t.Fatalf("node check.js: %v", err)
		}
	}
	key := func(c *config) { c.SettingsKey = settingsKey }
	t.Run("sqlite", func(t *testing.T) {
		a := startApp(t, storagetest.SQLiteDSN(t), key)
		totpUser(t, a, "tina", "tina-password-1")
		check(t, a.url+"/")
	})
	// Two instances on one PostgreSQL: calls over HTTP on one, the socket on
	// the other, so settings/update and the signout cross instances.
	t.Run("postgres-two-instances", func(t *testing.T) {
		dsn := storagetest.PostgresDSN(t)
		a := startApp(t, dsn, key)
		totpUser(t, a, "tina", "tina-password-1")
		check(t, a.url+"/", startApp(t, dsn, key).url+"/")
	})
}
