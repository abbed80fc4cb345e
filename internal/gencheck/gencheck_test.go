package gencheck_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const rootPassword = "root-password-for-gencheck"

// TestGeneratedClient renders the example app's OpenAPI document, generates
// a Go client from it with ogen (the version go.mod pins), compiles it, and
// runs testdata/calls_test.go beside it against the app serving on SQLite
// on 127.0.0.1: sign-in, typed answers, a struct parameter, a read by
// options.id and error answers decoded as the error envelope.
func TestGeneratedClient(t *testing.T) {
	tmp := t.TempDir()
	app := filepath.Join(tmp, "app")
	goCmd(t, nil, "build", "-o", app, "github.com/authrpc/authrpc/examples/app")

	base := startApp(t, app, filepath.Join(tmp, "app.db"))
	var doc bytes.Buffer
	render := exec.Command(app, "-base-url", base, "openapi")
	render.Stdout, render.Stderr = &doc, os.Stderr
	require.NoError(t, render.Run())
	var servers struct{ Servers []struct{ URL string } }
	require.NoError(t, json.Unmarshal(doc.Bytes(), &servers))
	require.Len(t, servers.Servers, 1)
	server := servers.Servers[0].URL
	require.Equal(t, base+"/api", server, "the server carries the prefix")
	spec := filepath.Join(tmp, "openapi.json")
	require.NoError(t, os.WriteFile(spec, doc.Bytes(), 0o600))

	// Inside the module, so that the client builds with its go.mod and
	// go.sum; testdata keeps it out of ./... while it exists.
	dir, err := os.MkdirTemp("testdata", "client-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	goCmd(t, nil, "tool", "ogen", "-config", "ogen.yml", "-target", dir, "-package", "api", "-clean", spec)
	calls, err := os.ReadFile(filepath.Join("testdata", "calls_test.go"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "calls_test.go"), calls, 0o600))

	pkg := "./" + filepath.ToSlash(dir)
	goCmd(t, nil, "vet", pkg)
	goCmd(t, []string{"GENCHECK_SERVER=" + server, "GENCHECK_ROOT_PASSWORD=" + rootPassword},
		"test", "-count=1", "-v", pkg)
}

// goCmd runs the go command in the module, with env added to the
// environment, and fails the test with its output if it fails.
func goCmd(t *testing.T, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if testing.Verbose() || err != nil {
		t.Logf("go %s:\n%s", strings.Join(args, " "), out)
	}
	require.NoError(t, err, "go %s", strings.Join(args, " "))
}

var servingURL = regexp.MustCompile(`msg=serving url=(http://127\.0\.0\.1:[0-9]+)/api/`)

// startApp serves the app on a free port of 127.0.0.1 with a SQLite file
// db, and returns its URL (without the /api prefix); the app stops with
// the test.
func startApp(t *testing.T, app, db string) string {
	t.Helper()
	cmd := exec.Command(app, "-addr", "127.0.0.1:0", "-db", db)
	cmd.Env = append(os.Environ(), "ROOT_PASSWORD="+rootPassword)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	var log lockedBuffer
	found := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteLine(sc.Text())
			if m := servingURL.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		<-done
		if err := cmd.Wait(); err != nil {
			t.Errorf("the app: %v\n%s", err, log.String())
		}
	})

	select {
	case base := <-found:
		waitHealthy(t, base)
		return base
	case <-done:
		t.Fatalf("the app stopped before serving:\n%s", log.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("the app is not serving after 2 minutes:\n%s", log.String())
	}
	return ""
}

// waitHealthy waits until the app answers its healthcheck.
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/healthcheck", nil)
		require.NoError(t, err)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the app's healthcheck: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lockedBuffer collects the app's log lines for failure messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) WriteLine(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
	b.buf.WriteByte('\n')
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
