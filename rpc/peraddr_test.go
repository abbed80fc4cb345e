package rpc_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// dialFrom opens a socket to srv as a client at addr behind a proxy on
// loopback: the connection comes from 127.0.0.1 and X-Forwarded-For names
// addr. On a refusal it returns the status and the body of the answer.
func dialFrom(t *testing.T, srv *httptest.Server, addr string) (status int, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", &websocket.DialOptions{
		Subprotocols: []string{rpc.Subprotocol},
		HTTPHeader:   http.Header{"X-Forwarded-For": {addr}},
	})
	if err != nil {
		require.NotNil(t, res, "dial %s: %v", addr, err)
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return http.StatusSwitchingProtocols, ""
}

// One address opening sockets until it is refused (as one did with 10,000
// guest sockets in 4.7 s) must leave sockets for the others: its refusal
// comes from a bound of its own, and another address still upgrades. An
// IPv6 client has one share for its whole /64.
func TestOneAddressCannotTakeEverySocket(t *testing.T) {
	t.Parallel()
	const max = 20
	f := newFixture(t, rpc.Options{
		TrustedProxyHeader: "X-Forwarded-For",
		WebSocket:          rpc.WebSocketOptions{MaxSockets: max},
	})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()

	flood := func(addr func(i int) string) (held int, status int, body string) {
		for held = 0; held <= max; held++ {
			if status, body = dialFrom(t, srv, addr(held)); status != http.StatusSwitchingProtocols {
				return held, status, body
			}
		}
		return held, http.StatusSwitchingProtocols, ""
	}
	held, status, body := flood(func(int) string { return "203.0.113.5" })
	assert.Less(t, held, max, "one address took every socket")
	assert.Equal(t, 1, held, "by default an address's share is MaxSockets/50, at least 1")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, body, "from your address")

	held6, status, body := flood(func(i int) string { return fmt.Sprintf("2001:db8:1:2::%x", i+1) })
	assert.Equal(t, held, held6, "a /64 has one address's share")
	assert.Equal(t, http.StatusServiceUnavailable, status, body)

	status, body = dialFrom(t, srv, "198.51.100.9")
	assert.Equal(t, http.StatusSwitchingProtocols, status, "another address is served: %s", body)
	status, body = dialFrom(t, srv, "2001:db8:1:3::1")
	assert.Equal(t, http.StatusSwitchingProtocols, status, "another /64 is served: %s", body)
}

// stallUploadFrom begins an upload to path on addr as a client at from
// behind a proxy on loopback, declaring size bytes and sending a few.
func stallUploadFrom(t *testing.T, addr, path, from string, size int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n"+
		"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\nfirst bytes", path, from, size)
	require.NoError(t, err)
	return c
}

// spoolDir returns an upload directory and a count of the files in it.
func spoolDir(t *testing.T) (dir string, spooled func() int) {
	dir = t.TempDir()
	return dir, func() int {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		return len(entries)
	}
}

// uploadFrom uploads size bytes to /v1/t/upload as a client at from
// behind a proxy on loopback.
func uploadFrom(t *testing.T, f *fixture, from string, size int) *rpctest.Answer {
	t.Helper()
	req := multipartRequest(t, "/v1/t/upload", nil, "a.bin", []byte(strings.Repeat("x", size)))
	req.RemoteAddr = "127.0.0.1:4711"
	req.Header.Set("X-Forwarded-For", from)
	return f.c.Do(t, req)
}

// One address stalling uploads until it is refused (16 of them shut uploads
// for everyone for 30 s, renewable) must leave upload slots for the others:
// its refusal names its address, and another address's upload is accepted.
func TestOneAddressCannotTakeEveryUpload(t *testing.T) {
	t.Parallel()
	dir, spooled := spoolDir(t)
	f := newFixture(t, rpc.Options{TrustedProxyHeader: "X-Forwarded-For", UploadDir: dir})
	addr, _ := serve(t, f.reg)
	upload := func(from string) (int, string) {
		a := uploadFrom(t, f, from, 5)
		return a.HTTP, a.Raw
	}

	held := 0
	for ; held < rpc.DefaultMaxUploads; held++ {
		stallUploadFrom(t, addr, "/v1/t/upload", "203.0.113.5", 900)
		require.Eventually(t, func() bool { return spooled() == held+1 }, 5*time.Second, 5*time.Millisecond,
			"the stalled upload is taken in")
		if status, _ := upload("203.0.113.5"); status != http.StatusOK {
			break
		}
		require.Equal(t, held+1, spooled(), "the accepted upload is removed after its handler")
	}
	assert.Less(t, held+1, rpc.DefaultMaxUploads, "one address held every upload slot")
	assert.Equal(t, rpc.DefaultMaxUploads/4, held+1, "by default an address's share is a quarter")
	status, raw := upload("203.0.113.5")
	assert.Equal(t, http.StatusServiceUnavailable, status, raw)
	assert.Contains(t, raw, "from your address")

	status, raw = upload("198.51.100.9")
	assert.Equal(t, http.StatusOK, status, "another address's upload is accepted: %s", raw)
}

// MaxSocketsPerAddr is an address's share exactly, and a socket it closes
// gives its place back.
func TestMaxSocketsPerAddr(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{
		TrustedProxyHeader: "X-Forwarded-For",
		WebSocket:          rpc.WebSocketOptions{MaxSockets: 100, MaxSocketsPerAddr: 3},
	})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	ctx := context.Background()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	dial := func(addr string) (*websocket.Conn, int, error) {
		conn, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{
			Subprotocols: []string{rpc.Subprotocol},
			HTTPHeader:   http.Header{"X-Forwarded-For": {addr}},
		})
		if err != nil {
			return nil, res.StatusCode, err
		}
		t.Cleanup(func() { conn.CloseNow() })
		return conn, res.StatusCode, nil
	}
	var mine []*websocket.Conn
	for range 3 {
		c, _, err := dial("203.0.113.5")
		require.NoError(t, err)
		mine = append(mine, c)
	}
	_, status, err := dial("203.0.113.5")
	require.Error(t, err, "past the address's share")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	_, _, err = dial("203.0.113.6")
	require.NoError(t, err, "another address")

	require.NoError(t, mine[0].Close(websocket.StatusNormalClosure, ""))
	require.Eventually(t, func() bool {
		c, _, err := dial("203.0.113.5")
		if c != nil {
			mine = append(mine, c)
		}
		return err == nil
	}, 5*time.Second, 5*time.Millisecond, "a closed socket gives its place back")
}

// MaxUploadsPerAddr and MaxSpooledBytesPerAddr bound one address's uploads
// in number and in bytes; its first upload is held to the bounds in all
// only, and what it gives back is its again.
func TestMaxUploadsPerAddr(t *testing.T) {
	t.Parallel()
	dir, spooled := spoolDir(t)
	// The method takes up to 1000 bytes; a declared 1200 counts as 1001.
	f := newFixture(t, rpc.Options{TrustedProxyHeader: "X-Forwarded-For", UploadDir: dir,
		MaxUploadsPerAddr: 2, MaxSpooledBytesPerAddr: 600})
	addr, _ := serve(t, f.reg)

	big := stallUploadFrom(t, addr, "/v1/t/upload", "203.0.113.5", 1200)
	require.Eventually(t, func() bool { return spooled() == 1 }, 5*time.Second, 5*time.Millisecond,
		"an address's first upload may be larger than its bytes share")
	a := uploadFrom(t, f, "203.0.113.5", 10)
	assert.Equal(t, http.StatusServiceUnavailable, a.HTTP, "past the address's bytes: %s", a.Raw)
	assert.Contains(t, a.Message, "from your address")
	assert.NotEmpty(t, a.Header.Get("Retry-After"))
	assert.Equal(t, 1, spooled(), "nothing of the refused upload is written")
	a = uploadFrom(t, f, "203.0.113.6", 10)
	assert.Equal(t, http.StatusOK, a.HTTP, "another address: %s", a.Raw)

	require.NoError(t, big.Close())
	require.Eventually(t, func() bool { return spooled() == 0 }, 5*time.Second, 5*time.Millisecond,
		"the cut upload is removed")
	stallUploadFrom(t, addr, "/v1/t/upload", "2001:db8:1:2::1", 100)
	stallUploadFrom(t, addr, "/v1/t/upload", "2001:db8:1:2::2", 100)
	require.Eventually(t, func() bool { return spooled() == 2 }, 5*time.Second, 5*time.Millisecond)
	a = uploadFrom(t, f, "2001:db8:1:2::3", 10)
	assert.Equal(t, http.StatusServiceUnavailable, a.HTTP, "past the /64's number (its bytes would fit): %s", a.Raw)
	assert.Contains(t, a.Message, "from your address")
	a = uploadFrom(t, f, "203.0.113.5", 10)
	assert.Equal(t, http.StatusOK, a.HTTP, "the first address has its share back: %s", a.Raw)
}
