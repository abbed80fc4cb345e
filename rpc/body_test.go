package rpc_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
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
	addr, active, _ = serveCounted(t, h)
	return addr, active
}

// serveCounted is serve counting the connections closed too.
func serveCounted(t *testing.T, h http.Handler) (addr string, active, closed *atomic.Int64) {
	t.Helper()
	active, closed = new(atomic.Int64), new(atomic.Int64)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateActive:
			active.Add(1)
		case http.StateClosed:
			closed.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), active, closed
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
// nothing for the bytes promised, and each is answered 408 for the body
// timeout, and closed.
func TestStalledBodiesHoldNoMemory(t *testing.T) {
	// Not parallel: it measures the heap.
	const (
		conns   = 200
		timeout = 3 * time.Second
	)
	f := newFixture(t, rpc.Options{BodyTimeout: timeout})
	var reading atomic.Int64 // requests in ServeHTTP, which reads the body at once
	addr, _, closed := serveCounted(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reading.Add(1)
		f.reg.ServeHTTP(w, r)
	}))

	before := heapInUse()
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = fmt.Fprintf(c, "POST /v1/t/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n[", 1<<20)
		require.NoError(t, err)
		cs[i] = c
	}
	require.Eventually(t, func() bool { return reading.Load() == conns }, time.Minute, 5*time.Millisecond)
	during := heapInUse()
	require.Zero(t, closed.Load(), "measured while every body is still awaited")
	grown := int64(during) - int64(before)
	t.Logf("heap before %.1f MB, with %d stalled 1 MiB bodies %.1f MB (grown %.1f MB)",
		float64(before)/1e6, conns, float64(during)/1e6, float64(grown)/1e6)
	assert.Less(t, grown, int64(30<<20), "memory follows the bytes received")

	for _, c := range cs {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Minute))) // fails the test only if never answered
		a, closed := answerOf(t, c)
		assert.Equal(t, http.StatusRequestTimeout, a.HTTP, a.Raw)
		assert.Equal(t, rpc.CodeRequestTimeout, a.Code)
		assert.Contains(t, a.Message, "did not arrive within 3s", "ended by the body timeout")
		assert.True(t, closed, "the connection is closed")
	}
}

// trickle sends a request whose 1 KiB body arrives a byte every interval,
// until the server answers; it returns the answer and, when waitClose is
// set, whether the server then closed the connection. An answer before the
// whole body means the server cut it.
func trickle(t *testing.T, addr string, interval time.Duration, waitClose bool) (*rpctest.Answer, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "POST /v1/t/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n[")
	require.NoError(t, err)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	br := bufio.NewReader(c)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second))) // fails the test only if never answered
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	a, err := rpctest.ReadAnswer(res)
	require.NoError(t, err)
	if !waitClose {
		return a, false
	}
	_, err = br.ReadByte()
	// Closed with bytes of the body still unread, the connection may be
	// reset rather than ended: closed all the same.
	return a, err == io.EOF || errors.Is(err, syscall.ECONNRESET)
}

// TestTricklingBodyIsCut: a body that keeps arriving, a byte at a time, is
// cut at the deadline, not at a quiet spell; so it is behind a writer
// that cannot set read deadlines (checked at every read, on the registry's
// clock), and the registry says once that it could not set them.
func TestTricklingBodyIsCut(t *testing.T) {
	t.Parallel()
	const timeout = 500 * time.Millisecond
	t.Run("deadline on the connection", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, rpc.Options{BodyTimeout: timeout})
		addr, _ := serve(t, f.reg)
		a, closed := trickle(t, addr, 50*time.Millisecond, true)
		assert.Equal(t, rpc.CodeRequestTimeout, a.Code, a.Raw)
		assert.Contains(t, a.Message, "did not arrive within 500ms")
		assert.True(t, closed, "the connection is closed")
		assert.NotContains(t, f.logs.String(), "cannot set read deadlines")
	})
	t.Run("writer without deadlines", func(t *testing.T) {
		t.Parallel()
		clock := rpctest.NewClock()
		f := newFixture(t, rpc.Options{BodyTimeout: timeout, Clock: clock})
		hide := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.reg.ServeHTTP(struct{ http.ResponseWriter }{w}, r) // no Unwrap: no deadlines
		})
		addr, _ := serve(t, hide)
		for range 2 {
			// The body's bytes keep coming; once its deadline is set, the
			// first read after the clock passes it fails.
			answered := make(chan struct{})
			go func() {
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-answered:
						return
					case <-tick.C:
						clock.Advance(timeout)
					}
				}
			}()
			// net/http drains the rest of the body before it closes the
			// connection, as nothing ends the read there: not waited for.
			a, _ := trickle(t, addr, 10*time.Millisecond, false)
			close(answered)
			assert.Equal(t, rpc.CodeRequestTimeout, a.Code, a.Raw)
			assert.Contains(t, a.Message, "did not arrive within 500ms")
		}
		assert.Equal(t, 1, strings.Count(f.logs.String(), "cannot set read deadlines"), "warned once")
	})
	t.Run("method's own timeout", func(t *testing.T) {
		t.Parallel()
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
		require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second))) // fails the test only if never answered
		a, _ := answerOf(t, c)
		assert.Equal(t, rpc.CodeRequestTimeout, a.Code, a.Raw)
		assert.Contains(t, a.Message, "did not arrive within 500ms")
	})
}

// TestBodyDeadlineDoesNotReachTheHandler: the read deadline is lifted once
// the body is read, so a handler that runs past it keeps its context and
// answers on a connection that is reused.
func TestBodyDeadlineDoesNotReachTheHandler(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{BodyTimeout: 100 * time.Millisecond})
	f.reg.Register(rpc.Method{
		ID: "/v1/t/long", Title: "Long", Permissions: []string{"*"},
		Handler: func(ctx context.Context) (string, error) {
			select {
			case <-time.After(400 * time.Millisecond): // past the connection's read deadline, the kernel's to keep

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
	t.Parallel()
	const timeout = 2 * time.Second
	spooledIn := func(t *testing.T, dir string) func() int {
		return func() int {
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			return len(entries)
		}
	}
	upload := func(t *testing.T, c *rpctest.Client) *rpctest.Answer {
		return c.Do(t, multipartRequest(t, "/v1/t/upload", nil, "small.txt", []byte("small")))
	}

	t.Run("in number", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		spooled := spooledIn(t, dir)
		// One address here: its own bounds are those in all.
		f := newFixture(t, rpc.Options{UploadDir: dir, BodyTimeout: timeout, MaxUploads: 3, MaxUploadsPerAddr: 3})
		addr, _ := serve(t, f.reg)
		var stalled []net.Conn
		for range 3 {
			stalled = append(stalled, stallUpload(t, addr, "/v1/t/upload", 900))
		}
		require.Eventually(t, func() bool { return spooled() == 3 }, timeout, 5*time.Millisecond)

		a := upload(t, f.c)
		assert.Equal(t, 503, a.HTTP, a.Raw)
		assert.Equal(t, rpc.CodeServiceUnavailable, a.Code)
		assert.NotEmpty(t, a.Header.Get("Retry-After"))
		assert.Equal(t, 3, spooled(), "nothing of the refused upload is written, and the others still stall: refused at once")

		for _, c := range stalled {
			require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Minute))) // fails the test only if never answered
			a, closed := answerOf(t, c)
			assert.Equal(t, rpc.CodeRequestTimeout, a.Code, a.Raw)
			assert.Contains(t, a.Message, "did not arrive within 2s", "ended by the body timeout")
			assert.True(t, closed)
		}
		assert.Zero(t, spooled(), "the stalled uploads' files are removed")
		a = upload(t, f.c)
		require.Equal(t, 200, a.HTTP, "room again once they ended: %s", a.Raw)
	})

	t.Run("in bytes", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		spooled := spooledIn(t, dir)
		// The method takes up to 1000 bytes; two declared uploads of 1200
		// bytes count 1001 each.
		f := newFixture(t, rpc.Options{UploadDir: dir, BodyTimeout: timeout, MaxSpooledBytes: 2500, MaxSpooledBytesPerAddr: 2500})
		addr, _ := serve(t, f.reg)
		stallUpload(t, addr, "/v1/t/upload", 1200)
		stallUpload(t, addr, "/v1/t/upload", 1200)
		require.Eventually(t, func() bool { return spooled() == 2 }, timeout, 5*time.Millisecond)

		big := multipartRequest(t, "/v1/t/upload", nil, "big.bin", bytes.Repeat([]byte("x"), 900))
		a := f.c.Do(t, big)
		assert.Equal(t, rpc.CodeServiceUnavailable, a.Code, "no room for %d bytes more: %s", big.ContentLength, a.Raw)
		assert.Equal(t, 2, spooled())
		a = upload(t, f.c)
		require.Equal(t, 200, a.HTTP, "a small one fits: %s", a.Raw)
		assert.Equal(t, 2, spooled(), "and is removed after its handler")

		require.Eventually(t, func() bool { return spooled() == 0 }, time.Minute, 10*time.Millisecond) // the body timeout ends them
		a = f.c.Do(t, multipartRequest(t, "/v1/t/upload", nil, "big.bin", bytes.Repeat([]byte("x"), 900)))
		assert.Equal(t, 200, a.HTTP, a.Raw)
	})

	t.Run("a method's limit must fit the budget", func(t *testing.T) {
		t.Parallel()
		reg := rpc.New(rpc.Options{MaxSpooledBytes: 1 << 20})
		assert.Panics(t, func() {
			reg.Register(rpc.Method{ID: "/v1/big", Permissions: []string{"*"}, MaxUploadBytes: 2 << 20, Handler: func(ctx context.Context) error { return nil }})
		})
	})
}
