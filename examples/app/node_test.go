package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/authrpc/authrpc/storage/storagetest"
)

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
		out, err := cmd.CombinedOutput()
		t.Logf("node check.js:\n%s", out)
		if err != nil {
			t.Fatalf("node check.js: %v", err)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		check(t, startApp(t, storagetest.SQLiteDSN(t)).url+"/")
	})
	// Two instances on one PostgreSQL: calls over HTTP on one, the socket on
	// the other, so settings/update and the signout cross instances.
	t.Run("postgres-two-instances", func(t *testing.T) {
		dsn := storagetest.PostgresDSN(t)
		check(t, startApp(t, dsn).url+"/", startApp(t, dsn).url+"/")
	})
}
