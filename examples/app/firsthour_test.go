package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/internal/logbuf"
)

// The README's first hour, as a newcomer follows it: the app starts on a
// fresh SQLite file and prints root's password once; root signs in and
// calls with the session token; signup answers 403 until root opens it;
// a token that no longer authenticates is told so; the console is served.
func TestFirstHour(t *testing.T) {
	t.Setenv("ROOT_PASSWORD", "") // the password is generated and printed
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	stdout := new(logbuf.Buffer)
	logr, logw := io.Pipe()
	serving := make(chan string, 1)
	servingLine := regexp.MustCompile(`msg=serving url=(\S+)`)
	go func() {
		lines := bufio.NewScanner(logr)
		for lines.Scan() {
			if m := servingLine.FindStringSubmatch(lines.Text()); m != nil {
				serving <- m[1]
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "app.db")}, stdout, logw)
		_ = logw.Close()
	}()
	var api string
	select {
	case api = <-serving:
	case err := <-done:
		t.Fatalf("the app ended before serving: %v", err)
	}
	require.True(t, strings.HasSuffix(api, "/api/"), api)

	m := regexp.MustCompile(`created the root user "root" with the password (\S+)\n.*shown only this once`).FindStringSubmatch(stdout.String())
	require.NotNil(t, m, "the password is printed: %q", stdout.String())
	password := m[1]

	a := &testApp{url: strings.TrimSuffix(api, "/")} // its calls: a.call, as every test here makes them
	r := a.call(t, "", "/v1/session/signin", `[{"username":"root","password":"`+password+`"}]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	var signin struct{ Token string }
	require.NoError(t, json.Unmarshal(r.Result.Data, &signin))
	token := signin.Token
	require.True(t, strings.HasPrefix(token, "ses_"), token)

	req, err := http.NewRequest(http.MethodGet, api+"v1/profile/read", nil) // a GET calls with no parameters
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	assert.Equal(t, 200, a.send(t, req).HTTP)

	signup := `[{"username":"alice","password":"alice-password"}]`
	r = a.call(t, "", "/v1/session/signup", signup)
	assert.Equal(t, 403, r.HTTP, "signup is closed on a fresh app: %s", r.Raw)
	r = a.call(t, token, "/v1/admin/settings/update", `[{"signup_enabled":true}]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	r = a.call(t, "", "/v1/session/signup", signup)
	assert.Equal(t, 200, r.HTTP, r.Raw)

	require.Equal(t, 200, a.call(t, token, "/v1/session/signout", ``).HTTP)
	req, err = http.NewRequest(http.MethodGet, api+"v1/profile/read", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	assert.Equal(t, 401, res.StatusCode)
	assert.Equal(t, `Bearer error="invalid_token"`, res.Header.Get("WWW-Authenticate"), "sign in again")

	console, err := http.Get(strings.TrimSuffix(api, "/api/") + "/admin/")
	require.NoError(t, err)
	require.NoError(t, console.Body.Close())
	assert.Equal(t, 200, console.StatusCode)
	assert.Contains(t, console.Header.Get("Content-Type"), "text/html")

	stop()
	require.NoError(t, <-done, "a graceful shutdown")
}
