package rpc_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc"
)

// A socket whose client stops reading falls MaxQueuedEvents behind and is
// closed with CloseTooSlow, and counted; the others get every event
// meanwhile, none waits for it.
func TestWebSocketSlowClientIsClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{WebSocket: rpc.WebSocketOptions{MaxQueuedEvents: 4}})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	fast := dialWS(t, srv, "")
	slow, br := bareSocket(t, srv.Listener.Addr().String())
	defer slow.Close()
	require.Eventually(t, func() bool { return f.reg.Sockets() == 2 }, time.Minute, 5*time.Millisecond)

	big := strings.Repeat("x", 64<<10)
	sent := 0
	// 64 MiB at most: far more than the connection's buffers hold.
	for ; sent < 1000 && f.reg.Refusals().EventQueue == 0; sent++ {
		require.NoError(t, f.reg.Publish(context.Background(), "big", []string{rpc.GroupAll}, sent, big))
		want := fmt.Sprintf(`{"jsonrpc":"2.0","method":"/event","params":["big",%d,"%s"]}`, sent, big)
		require.Equal(t, want, fast.readText(), "event %d", sent)
	}
	require.Equal(t, uint64(1), f.reg.Refusals().EventQueue, "after %d events", sent)

	// Once it reads again, the slow client finds the close after what was
	// written to it.
	for {
		op, payload, err := readOpFrame(br)
		require.NoError(t, err)
		if op == 8 {
			require.GreaterOrEqual(t, len(payload), 2)
			assert.Equal(t, uint16(rpc.CloseTooSlow), binary.BigEndian.Uint16(payload))
			assert.Contains(t, string(payload[2:]), "Too slow")
			break
		}
	}
	slow.Close()
	fast.quiet()
	require.Eventually(t, func() bool { return f.reg.Sockets() == 1 }, time.Minute, 5*time.Millisecond)
}

// readOpFrame reads one unmasked frame from the server and returns its
// opcode and payload.
func readOpFrame(br *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	p := make([]byte, n)
	_, err := io.ReadFull(br, p)
	return h[0] & 0x0f, p, err
}
