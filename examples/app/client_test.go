package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/client"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// transports are the URLs a Go client reaches the app at, by name.
var transports = []struct {
	name string
	url  func(a *testApp) string
}{
	{"http", func(a *testApp) string { return a.url }},
	{"ws", func(a *testApp) string { return "ws" + strings.TrimPrefix(a.url, "http") + "/" }},
}

// eachClient runs fn with a client of the example app (on SQLite) over
// every transport (tr) in every encoding: dial returns a client with the token
// given, closed when the test ends.
func eachClient(t *testing.T, fn func(t *testing.T, tr string, a *testApp, dial func(token string) *client.Client)) {
	for _, tr := range transports {
		for _, enc := range []client.Encoding{client.JSON, client.MessagePack} {
			t.Run(tr.name+"-"+enc.String(), func(t *testing.T) {
				a := startApp(t, storagetest.SQLiteDSN(t))
				dial := func(token string) *client.Client {
					c, err := client.New(tr.url(a), client.Options{Token: token, Encoding: enc})
					require.NoError(t, err)
					t.Cleanup(func() { _ = c.Close() })
					return c
				}
				fn(t, tr.name, a, dial)
			})
		}
	}
}

type signinAnswer struct {
	Token string `json:"token"`
	Auth  struct {
		UserID      string          `json:"user_id"`
		Username    string          `json:"username"`
		Permissions map[string]bool `json:"permissions"`
	} `json:"auth"`
}

// signinAs signs c in and makes it call with the new session's token.
func signinAs(t *testing.T, c *client.Client, user, password string) signinAnswer {
	t.Helper()
	s, err := client.Call[signinAnswer](context.Background(), c, "/v1/session/signin", map[string]string{"username": user, "password": password})
	require.NoError(t, err)
	require.NotEmpty(t, s.Token)
	c.SetToken(s.Token)
	return s
}

// The Go client as a host's program meets the example app: it signs in,
// calls a method of every module with typed answers, is refused with typed
// errors, makes void calls, and is a guest again after signing out.
func TestClientModules(t *testing.T) {
	t.Parallel()
	eachClient(t, func(t *testing.T, tr string, a *testApp, dial func(string) *client.Client) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := dial("")

		// A guest: refused with typed errors.
		_, err := c.Call(ctx, "/v1/profile/read")
		var e *client.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, -32801, e.Code)
		assert.Equal(t, "/v1/profile/read", e.Method)
		_, err = c.Call(ctx, "/v1/session/signin", map[string]string{"username": "root", "password": "wrong-password"})
		assert.Equal(t, 401, client.Code(err), err)
		_, err = c.Call(ctx, "/v1/no/such/method")
		assert.Equal(t, -32809, client.Code(err), err)

		s := signinAs(t, c, "root", "root-password-for-tests")
		assert.Equal(t, "1", s.Auth.UserID)
		assert.Equal(t, "root", s.Auth.Username)

		// users: create and read back, with meta.total.
		type user struct {
			ID       int64  `json:"id,string"`
			Name     string `json:"name"`
			Password string `json:"password"`
		}
		ann, err := client.Call[user](ctx, c, "/v1/admin/users/create", map[string]any{"username": "ann", "permissions": map[string]bool{"admin": true}})
		require.NoError(t, err)
		assert.Greater(t, ann.ID, int64(1))
		assert.NotEmpty(t, ann.Password, "a generated password")
		r, err := c.Call(ctx, "/v1/admin/users/read", map[string]any{"where": map[string]any{"search": []string{"like", "AN"}}})
		require.NoError(t, err)
		var rows []user
		require.NoError(t, r.Decode(&rows))
		require.Len(t, rows, 1)
		assert.Equal(t, "ann", rows[0].Name)
		assert.Equal(t, float64(1), r.Meta["total"])
		_, err = c.Call(ctx, "/v1/admin/users/create", map[string]any{"username": 5})
		assert.Equal(t, -32808, client.Code(err), err)

		// profile
		type profile struct {
			Name string `json:"name"`
		}
		p, err := client.Call[profile](ctx, c, "/v1/profile/read")
		require.NoError(t, err)
		assert.Equal(t, "root", p.Name)

		// api-tokens: a token of ann's, given admin, calls as ann.
		annc := dial("")
		signinAs(t, annc, "ann", ann.Password)
		type token struct {
			ID    string `json:"id"`
			Token string `json:"token"`
		}
		tok, err := client.Call[token](ctx, annc, "/v1/api-tokens/create", "a bot")
		require.NoError(t, err)
		_, err = annc.Call(ctx, "/v1/api-tokens/update-permissions", tok.ID, map[string]bool{"admin": true})
		require.NoError(t, err)
		bot := dial(tok.Token)
		_, err = bot.Call(ctx, "/v1/admin/users/read")
		require.NoError(t, err)

		// settings: read and update.
		type settings struct {
			AppURL string `json:"app_url"`
		}
		updates := make(chan client.Event, 1)
		c.Notify("settings/update", updates)
		_, err = c.Call(ctx, "/v1/admin/settings/update", map[string]string{"app_url": "https://example.com/app"})
		require.NoError(t, err)
		if strings.HasPrefix(tr, "ws") { // root's socket is in the admin group
			select {
			case e := <-updates:
				var now settings
				require.NoError(t, e.Decode(&now))
				assert.Equal(t, "https://example.com/app", now.AppURL)
			case <-ctx.Done():
				t.Fatal("no settings/update event")
			}
		}
		st, err := client.Call[settings](ctx, c, "/v1/admin/settings/read")
		require.NoError(t, err)
		assert.Equal(t, "https://example.com/app", st.AppURL)
		_, err = c.Call(ctx, "/v1/admin/settings/update", map[string]any{"no_such_setting": 1})
		assert.Equal(t, -32808, client.Code(err), err)

		// api-call-log: the statistics of a method called above.
		r, err = c.Call(ctx, "/v1/admin/api-call-log/read-latest-stat", "/v1/profile/read")
		require.NoError(t, err)
		assert.NotEmpty(t, r.Data)

		// test: with and without data; a void call is sent and not answered.
		echo, err := client.Call[string](ctx, c, "/v1/test/test", "hello")
		require.NoError(t, err)
		assert.Equal(t, "hello", echo)
		r, err = c.Call(ctx, "/v1/test/test")
		require.NoError(t, err)
		assert.Nil(t, r.Data)
		assert.ErrorIs(t, r.Decode(new(string)), client.ErrNoData)
		require.NoError(t, c.VoidCall(ctx, "/v1/test/test", "void"))

		// signout: the token no longer counts. A socket is closed with
		// 4000 (and reconnects as a guest), so a call after it waits for that.
		signedOut := make(chan client.Event, 1)
		c.Notify(client.EventSignout, signedOut)
		_, err = c.Call(ctx, "/v1/session/signout")
		require.NoError(t, err)
		if strings.HasPrefix(tr, "ws") {
			select {
			case <-signedOut:
			case <-ctx.Done():
				t.Fatal("no signout event")
			}
		}
		_, err = c.Call(ctx, "/v1/profile/read")
		assert.Equal(t, -32801, client.Code(err), err)
	})
}

// A client's transport errors are not *client.Error: a server that
// answers something other than the wire format, and one that is not there.
func TestClientTransportErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c, err := client.New(srv.URL+"/api", client.Options{})
	require.NoError(t, err)
	_, err = c.Call(ctx, "/v1/test/test", "x")
	require.Error(t, err)
	assert.Zero(t, client.Code(err))
	assert.Contains(t, err.Error(), `HTTP 404 with Content-Type "text/plain"`)

	c, err = client.New("http://127.0.0.1:1/api", client.Options{})
	require.NoError(t, err)
	_, err = c.Call(ctx, "/v1/test/test", "x")
	require.Error(t, err)
	assert.Zero(t, client.Code(err))
	require.NoError(t, c.Close())
	_, err = c.Call(ctx, "/v1/test/test", "x")
	assert.ErrorIs(t, err, client.ErrClosed)

	_, err = client.New("ftp://example.com/api", client.Options{})
	assert.Error(t, err)
}

// A session ended from another connection closes the socket that uses it
// (within a second: the wait is generous, the time logged): the client sees
// EventSignout, reconnects, and calls as a guest.
func TestClientSignoutFromElsewhere(t *testing.T) {
	t.Parallel()
	for _, enc := range []client.Encoding{client.JSON, client.MessagePack} {
		t.Run(enc.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			a := startApp(t, storagetest.SQLiteDSN(t))
			httpc, err := client.New(a.url, client.Options{})
			require.NoError(t, err)
			s := signinAs(t, httpc, "root", "root-password-for-tests")

			ws, err := client.New("ws"+strings.TrimPrefix(a.url, "http"), client.Options{Token: s.Token, Encoding: enc})
			require.NoError(t, err)
			defer ws.Close()
			signedOut := make(chan client.Event, 1)
			ws.Notify(client.EventSignout, signedOut)
			_, err = ws.Call(ctx, "/v1/profile/read")
			require.NoError(t, err, "signed in over the socket")

			_, err = httpc.Call(ctx, "/v1/session/signout")
			require.NoError(t, err)
			ended := time.Now()
			select {
			case <-signedOut:
				t.Logf("signed out %v after the signout", time.Since(ended))
			case <-time.After(eventWait):
				t.Fatalf("the socket was not closed with 4000 within %v", eventWait)
			}
			_, err = ws.Call(ctx, "/v1/profile/read")
			assert.Equal(t, -32801, client.Code(err), err)
		})
	}
}

// Two instances on one PostgreSQL, as the Go client meets them: a socket on
// b receives the settings/update that a change on a publishes, and is
// signed out within a second when its session ends on a.
func TestClientTwoInstances(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t) // skips, saying why, without TEST_POSTGRES_DSN
	a, b := startApp(t, dsn), startApp(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	onA, err := client.New(a.url, client.Options{})
	require.NoError(t, err)
	s := signinAs(t, onA, "root", "root-password-for-tests")
	onB, err := client.New("ws"+strings.TrimPrefix(b.url, "http"), client.Options{Token: s.Token, Encoding: client.MessagePack})
	require.NoError(t, err)
	defer onB.Close()
	updates := make(chan client.Event, 1)
	signedOut := make(chan client.Event, 1)
	onB.Notify("settings/update", updates)
	onB.Notify(client.EventSignout, signedOut)
	_, err = onB.Call(ctx, "/v1/profile/read")
	require.NoError(t, err, "b knows a's session")

	_, err = onA.Call(ctx, "/v1/admin/settings/update", map[string]string{"app_url": "https://a.example.com"})
	require.NoError(t, err)
	select {
	case e := <-updates:
		var st struct {
			AppURL string `json:"app_url"`
		}
		require.NoError(t, e.Decode(&st))
		assert.Equal(t, "https://a.example.com", st.AppURL)
	case <-time.After(eventWait):
		t.Fatalf("no settings/update on b within %v", eventWait)
	}

	_, err = onA.Call(ctx, "/v1/session/signout")
	require.NoError(t, err)
	ended := time.Now()
	select {
	case <-signedOut:
		t.Logf("signed out on b %v after the signout on a", time.Since(ended))
	case <-time.After(eventWait):
		t.Fatalf("b's socket was not signed out within %v", eventWait)
	}
}
