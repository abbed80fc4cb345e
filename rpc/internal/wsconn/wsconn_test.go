package wsconn_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc/internal/wsconn"
)

// echoServer answers each message with the same message, and reports how
// reading ended and the pongs it got.
type echoServer struct {
	*httptest.Server
	ended chan error
	pongs chan struct{}
}

func newEchoServer(t *testing.T, origins ...string) *echoServer {
	t.Helper()
	e := &echoServer{ended: make(chan error, 1), pongs: make(chan struct{}, 16)}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsconn.Upgrade(w, r, wsconn.Options{Subprotocol: "echo", OriginPatterns: origins,
			OnPong: func() { e.pongs <- struct{}{} }})
		if err != nil {
			return
		}
		go func() {
			defer c.CloseNow()
			for {
				op, rd, err := c.NextMessage()
				if err != nil {
					e.ended <- err
					return
				}
				msg, err := io.ReadAll(rd)
				if err != nil {
					e.ended <- err
					return
				}
				switch string(msg) {
				case "ping me":
					c.Ping()
					continue
				case "close":
					_ = c.Close(4001, "asked to")
					continue
				case "framed":
					msg = wsconn.Frame(wsconn.OpText, []byte("framed once"))
					_ = c.WriteFramed(msg, time.Time{})
					continue
				}
				_ = c.WriteMessage(op, msg, time.Now().Add(time.Minute))
			}
		}()
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *echoServer) dial(t *testing.T) *websocket.Conn {
	t.Helper()
	c, res, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(e.URL, "http"), &websocket.DialOptions{Subprotocols: []string{"echo"}})
	require.NoError(t, err)
	require.Equal(t, "echo", res.Header.Get("Sec-WebSocket-Protocol"))
	c.SetReadLimit(1 << 24)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func TestMessages(t *testing.T) {
	t.Parallel()
	e := newEchoServer(t)
	c := e.dial(t)
	ctx := context.Background()
	// Sizes around each length form of a header: 7 bits, 16 bits, 64 bits.
	for _, n := range []int{0, 1, 125, 126, 127, 4095, 4097, 65535, 65536, 1 << 20} {
		for _, typ := range []websocket.MessageType{websocket.MessageText, websocket.MessageBinary} {
			msg := bytes.Repeat([]byte("abcdefg"), n/7+1)[:n]
			require.NoError(t, c.Write(ctx, typ, msg))
			gotTyp, got, err := c.Read(ctx)
			require.NoError(t, err, n)
			assert.Equal(t, typ, gotTyp, n)
			assert.Equal(t, msg, got, n)
		}
	}
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("framed")))
	_, got, err := c.Read(ctx)
	require.NoError(t, err)
	assert.Equal(t, "framed once", string(got))
}

// A message in fragments, with the client's pings between them.
func TestFragmentsAndControlFrames(t *testing.T) {
	t.Parallel()
	e := newEchoServer(t)
	c := e.dial(t)
	ctx := context.Background()
	go func() { // reads for the client, so that its pings see their pongs
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	w, err := c.Writer(ctx, websocket.MessageText)
	require.NoError(t, err)
	_, err = w.Write([]byte("one "))
	require.NoError(t, err)
	require.NoError(t, c.Ping(ctx)) // answered while the message is half read
	_, err = w.Write([]byte("two"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, c.Ping(ctx))

	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("ping me")))
	select {
	case <-e.pongs:
	case <-time.After(time.Minute):
		t.Fatal("no pong")
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	t.Run("by the client", func(t *testing.T) {
		t.Parallel()
		e := newEchoServer(t)
		c := e.dial(t)
		require.NoError(t, c.Close(websocket.StatusGoingAway, "bye"))
		var ce *wsconn.CloseError
		require.ErrorAs(t, <-e.ended, &ce)
		assert.Equal(t, 1001, ce.Code)
		assert.Equal(t, "bye", ce.Reason)
	})
	t.Run("by the server", func(t *testing.T) {
		t.Parallel()
		e := newEchoServer(t)
		c := e.dial(t)
		ctx := context.Background()
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("close")))
		_, _, err := c.Read(ctx)
		var ce websocket.CloseError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, websocket.StatusCode(4001), ce.Code)
		assert.Equal(t, "asked to", ce.Reason)
		require.ErrorAs(t, <-e.ended, new(*wsconn.CloseError)) // the client's answer
	})
}

// rawDial opens a connection to e by hand and sends the handshake and
// then, in the same write, more.
func rawDial(t *testing.T, e *echoServer, more []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", e.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	_, err = nc.Write(append([]byte(req), more...))
	require.NoError(t, err)
	br := bufio.NewReader(nc)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	assert.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", res.Header.Get("Sec-WebSocket-Accept"))
	return nc, br
}

// masked frames a client's message.
func masked(op wsconn.Opcode, payload string) []byte {
	key := [4]byte{1, 2, 3, 4}
	b := []byte{0x80 | byte(op), 0x80 | byte(len(payload))}
	b = append(b, key[:]...)
	for i := range len(payload) {
		b = append(b, payload[i]^key[i&3])
	}
	return b
}

// readServerFrame reads one frame from the server: its opcode and payload.
func readServerFrame(t *testing.T, br *bufio.Reader) (wsconn.Opcode, []byte) {
	t.Helper()
	var h [2]byte
	_, err := io.ReadFull(br, h[:])
	require.NoError(t, err)
	require.Less(t, h[1], byte(126), "short frames only here")
	p := make([]byte, h[1])
	_, err = io.ReadFull(br, p)
	require.NoError(t, err)
	return wsconn.Opcode(h[0] & 0x0f), p
}

// Frames sent in the same packet as the handshake are read.
func TestFramesBehindTheHandshake(t *testing.T) {
	t.Parallel()
	e := newEchoServer(t)
	more := append(masked(wsconn.OpText, "early"), masked(wsconn.OpBinary, "bird")...)
	_, br := rawDial(t, e, more)
	op, p := readServerFrame(t, br)
	assert.Equal(t, wsconn.OpText, op)
	assert.Equal(t, "early", string(p))
	op, p = readServerFrame(t, br)
	assert.Equal(t, wsconn.OpBinary, op)
	assert.Equal(t, "bird", string(p))
}

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	for name, frame := range map[string][]byte{
		"unmasked":           {0x81, 0x02, 'h', 'i'},
		"reserved bits":      append([]byte{0xc1}, masked(wsconn.OpText, "x")[1:]...),
		"unknown opcode":     masked(3, "x"),
		"continuation first": masked(wsconn.OpContinuation, "x"),
		"fragmented ping":    append([]byte{0x09}, masked(wsconn.OpPing, "x")[1:]...),
		"close of 1 byte":    masked(wsconn.OpClose, "x"),
		"new message in a message": append(append([]byte{0x01}, masked(wsconn.OpText, "a")[1:]...),
			masked(wsconn.OpText, "b")...),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEchoServer(t)
			_, br := rawDial(t, e, frame)
			op, p := readServerFrame(t, br)
			require.Equal(t, wsconn.OpClose, op)
			require.GreaterOrEqual(t, len(p), 2)
			assert.Equal(t, uint16(wsconn.CloseProtocolError), binary.BigEndian.Uint16(p))
			assert.True(t, errors.Is(<-e.ended, wsconn.ErrProtocol))
		})
	}
}

func TestHandshakeRefusals(t *testing.T) {
	t.Parallel()
	e := newEchoServer(t, "*.example.com")
	try := func(mod func(h http.Header)) int {
		req, err := http.NewRequest(http.MethodGet, e.URL, nil)
		require.NoError(t, err)
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Sec-WebSocket-Version", "13")
		mod(req.Header)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	assert.Equal(t, http.StatusSwitchingProtocols, try(func(h http.Header) { h.Set("Origin", "https://app.example.com") }))
	assert.Equal(t, http.StatusForbidden, try(func(h http.Header) { h.Set("Origin", "https://evil.test") }))
	assert.Equal(t, http.StatusBadRequest, try(func(h http.Header) { h.Set("Sec-WebSocket-Version", "8") }))
	assert.Equal(t, http.StatusBadRequest, try(func(h http.Header) { h.Set("Sec-WebSocket-Key", "short") }))
	assert.Equal(t, http.StatusUpgradeRequired, try(func(h http.Header) { h.Del("Upgrade") }))
}
