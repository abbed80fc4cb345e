package main

import (
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/pubsub/natspubsub/natstest"
	"github.com/authrpc/authrpc/storage/storagetest"
)

// /v1/test/publish sends an event from outside, as root, to the sockets in
// its groups; bad input is refused with a 4xx and publishes nothing.
func TestTestPublish(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, a *testApp) {
		root := a.signin(t, "root", "root-password-for-tests")
		sock := a.dial(t, root, "/api/")
		guest := a.dial(t, "", "/api/")
		sock.call("/ping", `[]`) // joined
		guest.call("/ping", `[]`)

		r := a.call(t, root, "/v1/test/publish", `["note", ["root"], ["hi", {"n": 1}]]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		assert.Equal(t, `{"jsonrpc":"2.0","method":"/event","params":["note","hi",{"n":1}]}`, string(sock.next()))
		r = a.call(t, root, "/v1/test/publish", `["bare", ["*"]]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		assert.Equal(t, `{"jsonrpc":"2.0","method":"/event","params":["bare"]}`, string(sock.next()))
		assert.Equal(t, `{"jsonrpc":"2.0","method":"/event","params":["bare"]}`, string(guest.next()))

		for _, bad := range []string{
			``, `[]`, `[""]`, `["note"]`, `["note", []]`, `["note", "root"]`, `["note", [""]]`, `["note", [1]]`,
			`[1, ["root"]]`, `["note", ["root"], "hi"]`, `["note", ["root"], [], 4]`,
			`["no\u0000te", ["root"]]`, `["note", ["ro\not"]]`,
			`["` + strings.Repeat("n", 201) + `", ["root"]]`, `["note", [` + strings.Repeat(`"g",`, 100) + `"g"]]`,
		} {
			r := a.call(t, root, "/v1/test/publish", bad)
			assert.Equal(t, 400, r.HTTP, "%s: %s", bad, r.Raw)
			assert.Equal(t, -32808, r.code(), "%s: %s", bad, r.Raw)
		}
		r = a.call(t, root, "/v1/test/publish", `["note", ["root"], [1, `+strings.Repeat("[", 33)+strings.Repeat("]", 33)+`]]`)
		assert.Equal(t, 400, r.code(), r.Raw)
		assert.Contains(t, r.Raw, "args: argument 2 nests deeper than 32 levels")
		for _, token := range []string{"", a.signin(t, "root", "root-password-for-tests")[:10]} {
			r := a.call(t, token, "/v1/test/publish", `["note", ["*"]]`)
			assert.Contains(t, []int{401, 403}, r.HTTP, r.Raw)
		}
		// Nothing refused reached the sockets: the next event is this one.
		r = a.call(t, root, "/v1/test/publish", `["last", ["*"]]`)
		require.Equal(t, 200, r.HTTP, r.Raw)
		assert.Equal(t, `{"jsonrpc":"2.0","method":"/event","params":["last"]}`, string(sock.next()))
		assert.Equal(t, `{"jsonrpc":"2.0","method":"/event","params":["last"]}`, string(guest.next()))
	})
}

// Two instances of the example app on one PostgreSQL with -nats: a
// signout on one closes the socket on the other within a second, a 64 KB
// event published on one reaches a socket on the other (past the server's
// max_payload, made 16 KB here, so in chunks), settings travel
// too, and a signout made while the NATS server is down still closes the
// socket once it is back.
func TestTwoInstancesOverNATS(t *testing.T) {
	t.Parallel()
	dsn := storagetest.PostgresDSN(t)
	srv := natstest.Start(t, natstest.Options{MaxPayload: 16 << 10})
	a := startAppWith(t, config{DB: dsn, NATS: srv.URL()})
	b := startAppWith(t, config{DB: dsn, NATS: srv.URL()})

	root := a.signin(t, "root", "root-password-for-tests")
	onB := b.dial(t, root, "/api/")
	onB.call("/ping", `[]`) // joined

	big := strings.Repeat("n", 64<<10)
	r := a.call(t, root, "/v1/test/publish", `["big", ["root"], ["`+big+`"]]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	assert.Equal(t, `{"jsonrpc":"2.0","method":"/event","params":["big","`+big+`"]}`, string(onB.next()))

	r = a.call(t, root, "/v1/admin/settings/update", `[{"app_url":"https://nats.example"}]`)
	require.Equal(t, 200, r.HTTP, r.Raw)
	ev := string(onB.next())
	assert.Contains(t, ev, `"settings/update"`)
	assert.Contains(t, ev, `https://nats.example`)
	// The settings travel on a channel of their own, not behind the event.
	until(t, "b reads the settings stored on a", func() bool {
		return strings.Contains(b.call(t, root, "/v1/admin/settings/read", ``).Raw, "https://nats.example")
	})

	start := time.Now()
	require.Equal(t, 200, a.call(t, root, "/v1/session/signout", ``).code())
	assert.Equal(t, websocket.StatusCode(4000), onB.closedWith(eventWait))
	t.Logf("closed on b %s after the signout on a", time.Since(start))

	// The NATS server goes away; a signout on a meanwhile still closes the
	// socket on b once the server is back.
	again := a.signin(t, "root", "root-password-for-tests")
	onB = b.dial(t, again, "/api/")
	onB.call("/ping", `[]`)
	srv.Stop()
	require.Equal(t, 200, a.call(t, again, "/v1/session/signout", ``).code())
	srv.Start()
	start = time.Now()
	assert.Equal(t, websocket.StatusCode(4000), onB.closedWith(eventWait))
	t.Logf("closed on b %s after the NATS server came back", time.Since(start))
}
