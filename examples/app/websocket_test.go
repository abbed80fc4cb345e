package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/storage/storagetest"
)

// appSocket is a WebSocket to the example app, read by a goroutine of its
// own, as @softvisio/core front ends open it.
type appSocket struct {
	t      *testing.T
	conn   *websocket.Conn
	msgs   chan []byte
	closed chan struct{}
	err    error
	id     atomic.Int64
}

func (a *testApp) dial(t *testing.T, token, path string) *appSocket {
	t.Helper()
	protos := []string{"jsonrpc_2.0"}
	if token != "" {
		protos = append(protos, token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(strings.TrimSuffix(a.url, "/api"), "http") + path
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: protos})
	require.NoError(t, err)
	conn.SetReadLimit(1 << 20) // events of 64 KB and more
	s := &appSocket{t: t, conn: conn, msgs: make(chan []byte, 64), closed: make(chan struct{})}
	go func() {
		defer close(s.closed)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				s.err = err
				return
			}
			s.msgs <- b
		}
	}()
	t.Cleanup(func() { conn.CloseNow() })
	return s
}

// call sends a request and returns its reply; events that come first are skipped.
func (s *appSocket) call(method, params string) string {
	s.t.Helper()
	id := s.id.Add(1)
	req := fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":%s,"id":%d}`, method, params, id)
	require.NoError(s.t, s.conn.Write(context.Background(), websocket.MessageText, []byte(req)))
	prefix := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,`, id)
	for {
		b := s.next()
		if strings.HasPrefix(string(b), prefix) {
			return string(b)
		}
	}
}

func (s *appSocket) next() []byte {
	s.t.Helper()
	select {
	case b := <-s.msgs:
		return b
	case <-s.closed:
		s.t.Fatalf("socket closed: %v", s.err)
	case <-time.After(eventWait):
		s.t.Fatalf("no message within %v", eventWait)
	}
	return nil
}

// closedWith waits until the server closes the socket, and returns its code.
func (s *appSocket) closedWith(within time.Duration) websocket.StatusCode {
	s.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case <-s.msgs:
		case <-s.closed:
			var ce websocket.CloseError
			require.True(s.t, errors.As(s.err, &ce), "closed without a close frame: %v", s.err)
			return ce.Code
		case <-timeout:
			s.t.Fatalf("still open %s later", within)
		}
	}
}

// httpBody posts a JSON-RPC request object with the given id to the mount
// root, as the WebSocket frame carries it, and returns the answer's body.
func (a *testApp) httpBody(t *testing.T, token, method, params string, id int64) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.url+"/", strings.NewReader(fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":%s,"id":%d}`, method, params, id)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

// A @softvisio/core front end on the example app: it opens a socket at /api
// (4.x) or /api/ (6.x), its calls answer as over HTTP, it hears
// settings/update, and its socket closes with 4000 when its session ends
// elsewhere.
func TestWebSocketFrontEnd(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		root := a.signin(t, "root", "root-password-for-tests")
		sock := a.dial(t, root, "/api?persistent=true")
		six := a.dial(t, root, "/api/")
		guest := a.dial(t, "", "/api/")

		for _, c := range []struct{ method, params string }{
			{"/v1/profile/read", `[]`},
			{"/v1/admin/users/read", `[]`},
			{"/v1/admin/settings/read", `[]`},
			{"/v1/api-tokens/read", `[]`},
			{"/v1/admin/users/read", `[{"where":{"nope":["=",1]}}]`},
		} {
			id := sock.id.Load() + 1
			assert.Equal(t, a.httpBody(t, root, c.method, c.params, id), sock.call(c.method, c.params), c.method)
		}
		id := guest.id.Load() + 1
		assert.Equal(t, a.httpBody(t, "", "/v1/admin/users/read", `[]`, id), guest.call("/v1/admin/users/read", `[]`))

		six.call("/subscribe", `[["settings/update"]]`)
		r := a.call(t, root, "/v1/admin/settings/update", `[{"app_url":"https://ws.example"}]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		ev := string(sock.next())
		assert.True(t, strings.HasPrefix(ev, `{"jsonrpc":"2.0","method":"/event","params":["settings/update",{`), ev)
		assert.Contains(t, ev, `"app_url":"https://ws.example"`)
		assert.NotContains(t, ev, "smtp_password\"")
		ev = string(six.next())
		assert.True(t, strings.HasPrefix(ev, `{"jsonrpc":"2.0","method":"/publish","params":["settings/update",`), ev)

		// The session ends from another connection: its sockets close.
		start := time.Now()
		require.Equal(t, 200, a.call(t, root, "/v1/session/signout", ``).code())
		assert.Equal(t, websocket.StatusCode(4000), sock.closedWith(eventWait))
		assert.Equal(t, websocket.StatusCode(4000), six.closedWith(eventWait))
		t.Logf("closed %s after the signout", time.Since(start))
		assert.Contains(t, guest.call("/ping", `[]`), `"method":"/pong"`)

		// The reconnect with the ended session is a guest.
		again := a.dial(t, root, "/api/")
		assert.Contains(t, again.call("/v1/profile/read", `[]`), `"code":-32801`)
	})
}

// A session that signs itself out over its own socket gets its answer
// before the socket closes.
func TestWebSocketSignoutOverItsOwnSocket(t *testing.T) {
	t.Parallel()
	a := startApp(t, storagetest.SQLiteDSN(t))
	root := a.signin(t, "root", "root-password-for-tests")
	sock := a.dial(t, root, "/api/")
	var r struct {
		Result struct{ Status int } `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(sock.call("/v1/session/signout", `[]`)), &r))
	assert.Equal(t, 200, r.Result.Status)
	assert.Equal(t, websocket.StatusCode(4000), sock.closedWith(eventWait))
}

// Two instances on one PostgreSQL: a signout on one closes the socket on
// the other within a second, and an event published on one reaches the
// sockets of the other.
func TestWebSocketTwoInstances(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	a, b := startApp(t, dsn), startApp(t, dsn)
	root := a.signin(t, "root", "root-password-for-tests")
	onB := b.dial(t, root, "/api/")
	onB.call("/ping", `[]`) // joined

	r := a.call(t, root, "/v1/admin/settings/update", `[{"app_url":"https://two.example"}]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	ev := string(onB.next())
	assert.Contains(t, ev, `"settings/update"`)
	assert.Contains(t, ev, `https://two.example`)

	// Bigger than a NOTIFY can carry: it goes through the table.
	big := strings.Repeat("é", 32<<10)
	r = a.call(t, root, "/v1/test/publish", `["big", ["root"], ["`+big+`"]]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	assert.Equal(t, `{"jsonrpc":"2.0","method":"/event","params":["big","`+big+`"]}`, string(onB.next()))

	start := time.Now()
	require.Equal(t, 200, a.call(t, root, "/v1/session/signout", ``).code())
	assert.Equal(t, websocket.StatusCode(4000), onB.closedWith(eventWait))
	t.Logf("closed on b %s after the signout on a", time.Since(start))
}

// profile/set-email over a socket leaves that socket open: the session
// stays valid, and the 6.x client would read a 4000 as a signout. The next
// call on it sees the new email. Invalidations apply in order, so once a
// later signout has closed another socket, the set-email's has been
// handled. A signout over the socket still closes it with 4000.
func TestWebSocketSetEmailKeepsTheSocket(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		root := a.signin(t, "root", "root-password-for-tests")
		require.Equal(t, 200, a.call(t, root, "/v1/admin/users/create", `[{"username":"ann","password":"ann-password"}]`).code())
		ann, annElsewhere := a.signin(t, "ann", "ann-password"), a.signin(t, "ann", "ann-password")
		sock, other := a.dial(t, ann, "/api/"), a.dial(t, annElsewhere, "/api/")

		assert.Contains(t, sock.call("/v1/profile/set-email", `["ann@example.com"]`), `"status":200`)
		assert.Contains(t, sock.call("/v1/profile/set-telegram-username", `["ann_tg"]`), `"status":200`)
		require.Equal(t, 200, a.call(t, ann, "/v1/profile/set-email", `["ann@example.org"]`).code(), "over HTTP")

		require.Equal(t, 200, a.call(t, annElsewhere, "/v1/session/signout", ``).code())
		assert.Equal(t, websocket.StatusCode(4000), other.closedWith(eventWait))
		r := sock.call("/v1/profile/read", `[]`)
		assert.Contains(t, r, `"email":"ann@example.org"`)
		assert.Contains(t, r, `"telegram_name":"ann_tg"`)

		assert.Contains(t, sock.call("/v1/session/signout", `[]`), `"status":200`)
		assert.Equal(t, websocket.StatusCode(4000), sock.closedWith(eventWait))
	})
}

// The same across two instances on one PostgreSQL: set-email on a leaves
// the socket on b open, a signout on a still closes b's.
func TestWebSocketSetEmailKeepsTheSocketOnEveryInstance(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	a, b := startApp(t, dsn), startApp(t, dsn)
	root := a.signin(t, "root", "root-password-for-tests")
	require.Equal(t, 200, a.call(t, root, "/v1/admin/users/create", `[{"username":"ann","password":"ann-password"}]`).code())
	ann, annElsewhere := a.signin(t, "ann", "ann-password"), a.signin(t, "ann", "ann-password")
	sock, other := b.dial(t, ann, "/api/"), b.dial(t, annElsewhere, "/api/")
	sock.call("/ping", `[]`) // joined
	other.call("/ping", `[]`)

	require.Equal(t, 200, a.call(t, ann, "/v1/profile/set-email", `["ann@example.com"]`).code())
	require.Equal(t, 200, a.call(t, annElsewhere, "/v1/session/signout", ``).code())
	assert.Equal(t, websocket.StatusCode(4000), other.closedWith(eventWait), "closed on b")
	assert.Contains(t, sock.call("/v1/profile/read", `[]`), `"email":"ann@example.com"`)

	require.Equal(t, 200, a.call(t, ann, "/v1/session/signout", ``).code())
	assert.Equal(t, websocket.StatusCode(4000), sock.closedWith(eventWait), "closed on b")
}
