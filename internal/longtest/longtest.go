// Package longtest marks the tests that are long by design: they wait for
// a production timeout that no injected clock can shorten (a socket's
// deadline, a database's keepalive), or they soak. They run only when the
// environment variable AUTHRPC_LONG is set to 1, as CI sets it (.ci/run);
// otherwise they skip, saying why and how to run them.
package longtest

import (
	"os"
	"testing"
)

// Env names the environment variable that runs the long tests.
const Env = "AUTHRPC_LONG"

// Enabled reports whether the long tests run: AUTHRPC_LONG is "1".
func Enabled() bool { return os.Getenv(Env) == "1" }

// Skip skips t unless the long tests run; why says what makes t long.
func Skip(t testing.TB, why string) {
	t.Helper()
	if !Enabled() {
		t.Skipf("long test (%s): set %s=1 to run it, as CI does", why, Env)
	}
}
