package rpc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// TestSocketMemory checks what the README states one socket may hold at
// most, with the default bounds: idle with 128 subscriptions of 128-byte
// names, and with 16 messages of 1 MiB in flight (MaxCallsInFlight,
// MaxMessageBytes), held by their handlers. (Not parallel: it reads the
// whole process's heap.)
func TestSocketMemory(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	reg := rpc.New(rpc.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	reg.Register(rpc.Method{
		ID: "/v1/hold", Title: "Hold", Permissions: []string{auth.Anyone},
		Params: []rpc.Param{{Name: "text"}},
		Handler: func(ctx context.Context, text string) (int, error) {
			arrived <- struct{}{}
			<-release
			return len(text), nil
		},
	})
	srv := httptest.NewServer(reg)
	defer srv.Close()

	t.Run("idle, subscribed to the most", func(t *testing.T) {
		const sockets = 16
		runtime.GC()
		before := heapInuse()
		var open []*wsClient
		for range sockets {
			s := dialWS(t, srv, "")
			names := make([]string, 128)
			for i := range names {
				names[i] = fmt.Sprintf("%03d%s", i, strings.Repeat("n", 125))
			}
			s.sendText(subscribeFrame(1, names))
			require.Contains(t, s.readText(), `"result"`)
			open = append(open, s)
		}
		runtime.GC()
		each := (int64(heapInuse()) - int64(before)) / sockets
		t.Logf("one idle socket with 128 subscriptions: %d KiB (server and client ends)", each>>10)
		assert.Less(t, each, int64(96<<10))
		for _, s := range open {
			s.conn.CloseNow()
		}
	})

	t.Run("16 messages of 1 MiB in flight", func(t *testing.T) {
		s := dialWS(t, srv, "")
		s.sendText(`{"jsonrpc":"2.0","method":"/ping","id":0}`)
		s.readText()
		frames := make([][]byte, 16)
		for i := range frames {
			var err error
			frames[i], err = msgpack.Marshal(map[string]any{
				"jsonrpc": "2.0", "method": "/v1/hold", "id": i, "params": []string{strings.Repeat("x", 1<<20-100)},
			})
			require.NoError(t, err)
		}
		runtime.GC()
		before := heapInuse()
		for _, f := range frames {
			s.send(websocket.MessageBinary, f)
		}
		for range frames {
			<-arrived
		}
		runtime.GC()
		held := int64(heapInuse()) - int64(before)
		close(release)
		for range frames {
			s.read()
		}
		t.Logf("16 messages of 1 MiB in flight: %d MiB", held>>20)
		// Each: the message, its JSON and the params' copy (3 MiB at most),
		// and the 1 MiB string the handler was given.
		assert.Less(t, held, int64(16*4<<20))
	})
}
