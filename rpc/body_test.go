package rpc_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// serve serves h on a real socket and counts the connections whose first
// request has begun.
func serve(t *testing.T, h http.Handler) (addr string, active *atomic.Int64) {
	t.Helper()
	active = new(atomic.Int64)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateActive {
			active.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), active
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// answerOf reads one answer from c, and reports whether the server then
// closed the connection.
func answerOf(t *testing.T, c net.Conn) (a *rpctest.Answer, closed bool) {
	t.Helper()
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	a, err = rpctest.ReadAnswer(res)
	require.NoError(t, err)
	_, err = br.ReadByte()
	return a, err == io.EOF
}

// TestStalledBodiesHoldNoMemory: issue 11, item 1. Anonymous connections
// that declare a 1 MiB body and send one byte make the server reserve
// nothing for the bytes promised, and each is answered 408 and closed once
// the body timeout passes.
func TestStalledBodiesHoldNoMemory(t *testing.T) {
	const (
		conns   = 200
		timeout = 3 * time.Second
	)
	f := newFixture(t, rpc.Options{BodyTimeout: timeout})
	addr, active := serve(t, f.reg)

	before := heapInUse()
	start := time.Now()
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = fmt.Fprintf(c, "POST /v1/t/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n[", 1<<20)
		require.NoError(t, err)
		cs[i] = c
	}
	dialed := time.Since(start)
	require.Eventually(t, func() bool { return active.Load() == conns }, timeout/2, 5*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // every handler is reading its body
	during := heapInUse()
	require.Less(t, time.Since(start), timeout, "measured while every body is still awaited")
	grown := int64(during) - int64(before)
	t.Logf("heap before %.1f MB, with %d stalled 1 MiB bodies %.1f MB (grown %.1f MB)",
		float64(before)/1e6, conns, float64(during)/1e6, float64(grown)/1e6)
	assert.Less(t, grown, int64(30<<20), "memory follows the bytes received")

	for _, c := range cs {
		require.NoError(t, c.SetReadDeadline(start.Add(timeout+5*time.Second)))
		a, closed := answerOf(t, c)
		assert.Equal(t, http.StatusRequestTimeout, a.HTTP, a.Raw)
		assert.Equal(t, rpc.CodeRequestTimeout, a.Code)
		assert.Contains(t, a.Message, "did not arrive within 3s")
		assert.True(t, closed, "the connection is closed")
	}
	elapsed := time.Since(start)
	t.Logf("all %d answered after %v (body timeout %v)", conns, elapsed.Round(time.Millisecond), timeout)
	assert.GreaterOrEqual(t, elapsed, timeout)
	assert.Less(t, elapsed, dialed+timeout+time.Second, "answered within a second of the deadline")
}

// trickle sends a request whose 1 KiB body arrives a byte every interval,
// until the server answers; it returns the answer, how long it took, and
// whether the server then closed the connection (waiting up to 2 s for that).
func trickle(t *testing.T, addr string, interval time.Duration) (*rpctest.Answer, time.Duration, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	_, err = fmt.Fprintf(c, "POST /v1/t/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n[")
	require.NoError(t, err)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(interval):
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	br := bufio.NewReader(c)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	a, err := rpctest.ReadAnswer(res)
	require.NoError(t, err)
	took := time.Since(start)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
	_, err = br.ReadByte()
	return a, took, err == io.EOF
}

// TestTricklingBodyIsCut: a body that keeps arriving, a byte at a time, is
// cut at the deadline, not at a quiet spell; so it is behind a writer
// that cannot set read deadlines (checked at every read), and the registry
// says once that it could not set them.
func TestTricklingBodyIsCut(t *testing.T) {
	const timeout = 500 * time.Millisecond
	t.Run("deadline on the connection", func(t *testing.T) {
		f := newFixture(t, rpc.Options{BodyTimeout: timeout})
		addr, _ := serve(t, f.reg)
		a, took, closed := trickle(t, addr, 50*time.Millisecond)
		assert.Equal(t, rpc.CodeRequestTimeout, a.Code, a.Raw)
		assert.Less(t, took, timeout+time.Second)
		assert.True(t, closed, "the connection is closed")
		assert.NotContains(t, f.logs.String(), "cannot set read deadlines")
	})
	t.Run("writer without deadlines", func(t *testing.T) {
		f := newFixture(t, rpc.Options{BodyTimeout: timeout})
		hide := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.reg.ServeHTTP(struct{ http.ResponseWriter }{w}, r) // no Unwrap: no deadlines
		})
		addr, _ := serve(t, hide)
		a, took, _ := trickle(t, addr, 50*time.Millisecond)
		assert.Equal(t, rpc.CodeRequestTimeout, a.Code, a.Raw)
		assert.Less(t, took, timeout+time.Second)
		a, _, _ = trickle(t, addr, 50*time.Millisecond)
		assert.Equal(t, rpc.CodeRequestTimeout, a.Code, a.Raw)
		assert.Equal(t, 1, strings.Count(f.logs.String(), "cannot set read deadlines"), "warned once")
	})
	t.Run("method's own timeout", func(t *testing.T) {
		f := newFixture(t, rpc.Options{BodyTimeout: time.Hour})
		f.reg.Register(rpc.Method{
			ID: "/v1/t/quick", Title: "Quick body", Permissions: []string{"*"}, BodyTimeout: timeout,
			Params: []rpc.Param{{Name: "text?"}}, Handler: func(ctx context.Context, s string) error { return nil },
		})
		addr, _ := serve(t, f.reg)
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = fmt.Fprintf(c, "POST /v1/t/quick HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n[")
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		a, _ := answerOf(t, c)
		assert.Equal(t, rpc.CodeRequestTimeout, a.Code, a.Raw)
	})
}

// TestBodyDeadlineDoesNotReachTheHandler: the read deadline is lifted once
// the body is read, so a handler that runs past it keeps its context and
// answers on a connection that is reused.
func TestBodyDeadlineDoesNotReachTheHandler(t *testing.T) {
	f := newFixture(t, rpc.Options{BodyTimeout: 100 * time.Millisecond})
	f.reg.Register(rpc.Method{
		ID: "/v1/t/long", Title: "Long", Permissions: []string{"*"},
		Handler: func(ctx context.Context) (string, error) {
			select {
			case <-time.After(400 * time.Millisecond):
				return "done", nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		},
	})
	addr, _ := serve(t, f.reg)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	br := bufio.NewReader(c)
	for range 2 {
		_, err = io.WriteString(c, "POST /v1/t/long HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[]")
		require.NoError(t, err)
		res, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		a, err := rpctest.ReadAnswer(res)
		require.NoError(t, err)
		require.Equal(t, 200, a.HTTP, a.Raw)
		assert.JSONEq(t, `"done"`, string(a.Data))
	}
}

// stallUpload starts an upload to path that declares size bytes, sends the
// start of its file part and stops.
func stallUpload(t *testing.T, addr, path string, size int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n"+
		"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\nfirst bytes", path, size)
	require.NoError(t, err)
	return c
}

// TestStalledUploadsAreBounded: issue 11, item 7. Uploads in flight are
// bounded in number and in bytes registry-wide; past either bound an upload
// is refused at once, with nothing written; the body timeout ends the
// stalled ones and removes what they spooled.
func TestStalledUploadsAreBounded(t *testing.T) {
	const timeout = 2 * time.Second
	dir := t.TempDir()
	spooled := func() int {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		return len(entries)
	}
	upload := func(c *rpctest.Client) *rpctest.Answer {
		return c.Do(t, multipartRequest(t, "/v1/t/upload", nil, "small.txt", []byte("small")))
	}

	t.Run("in number", func(t *testing.T) {
		// One address here: its own bounds are those in all.
		f := newFixture(t, rpc.Options{UploadDir: dir, BodyTimeout: timeout, MaxUploads: 3, MaxUploadsPerAddr: 3})
		addr, _ := serve(t, f.reg)
		start := time.Now()
		var stalled []net.Conn
		for range 3 {
			stalled = append(stalled, stallUpload(t, addr, "/v1/t/upload", 900))
		}
		require.Eventually(t, func() bool { return spooled() == 3 }, timeout/2, 5*time.Millisecond)

		began := time.Now()
		a := upload(f.c)
		assert.Equal(t, 503, a.HTTP, a.Raw)
		assert.Equal(t, rpc.CodeServiceUnavailable, a.Code)
		assert.NotEmpty(t, a.Header.Get("Retry-After"))
		assert.Less(t, time.Since(began), 100*time.Millisecond, "refused at once")
		assert.Equal(t, 3, spooled(), "nothing of the refused upload is written")

		for _, c := range stalled {
			require.NoError(t, c.SetReadDeadline(start.Add(timeout+3*time.Second)))
			a, closed := answerOf(t, c)
			assert.Equal(t, rpc.CodeRequestTimeout, a.Code, a.Raw)
			assert.True(t, closed)
		}
		assert.Less(t, time.Since(start), timeout+time.Second)
		assert.Zero(t, spooled(), "the stalled uploads' files are removed")
		a = upload(f.c)
		require.Equal(t, 200, a.HTTP, "room again once they ended: %s", a.Raw)
	})

	t.Run("in bytes", func(t *testing.T) {
		// The method takes up to 1000 bytes; two declared uploads of 1200
		// bytes count 1001 each.
		f := newFixture(t, rpc.Options{UploadDir: dir, BodyTimeout: timeout, MaxSpooledBytes: 2500, MaxSpooledBytesPerAddr: 2500})
		addr, _ := serve(t, f.reg)
		stallUpload(t, addr, "/v1/t/upload", 1200)
		stallUpload(t, addr, "/v1/t/upload", 1200)
		require.Eventually(t, func() bool { return spooled() == 2 }, timeout/2, 5*time.Millisecond)

		big := multipartRequest(t, "/v1/t/upload", nil, "big.bin", bytes.Repeat([]byte("x"), 900))
		a := f.c.Do(t, big)
		assert.Equal(t, rpc.CodeServiceUnavailable, a.Code, "no room for %d bytes more: %s", big.ContentLength, a.Raw)
		assert.Equal(t, 2, spooled())
		a = upload(f.c)
		require.Equal(t, 200, a.HTTP, "a small one fits: %s", a.Raw)
		assert.Equal(t, 2, spooled(), "and is removed after its handler")

		require.Eventually(t, func() bool { return spooled() == 0 }, timeout+time.Second, 10*time.Millisecond)
		a = f.c.Do(t, multipartRequest(t, "/v1/t/upload", nil, "big.bin", bytes.Repeat([]byte("x"), 900)))
		assert.Equal(t, 200, a.HTTP, a.Raw)
	})

	t.Run("a method's limit must fit the budget", func(t *testing.T) {
		reg := rpc.New(rpc.Options{MaxSpooledBytes: 1 << 20})
		assert.Panics(t, func() {
			reg.Register(rpc.Method{ID: "/v1/big", Permissions: []string{"*"}, MaxUploadBytes: 2 << 20, Handler: func(ctx context.Context) error { return nil }})
		})
	})
}
