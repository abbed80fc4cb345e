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

// The seed's own JavaScript client (@softvisio/core 6.x) against the
// example app, over HTTP and WebSocket: testdata/node/check.js signs in,
// calls every module, receives settings/update, and sees "signout" when
// its session is ended from another connection.
func TestNodeClient(t *testing.T) {
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

	a := startApp(t, storagetest.SQLiteDSN(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "check.js", a.url+"/", "root-password-for-tests")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("node check.js:\n%s", out)
	if err != nil {
		t.Fatalf("node check.js: %v", err)
	}
}
