package rpc_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/authrpc/authrpc/internal/benchkit"
	"github.com/authrpc/authrpc/rpc"
)

// BenchmarkMsgpack serves MessagePack bodies through the handler, in
// process (no network): the decoding of a small call, of a nested struct,
// of a request object at the mount root and of a 64 KiB string, each
// answered in MessagePack. Beside ns/op it reports the process's CPU time
// per call (cpu-ns/op), which the machine's other work stretches less.
func BenchmarkMsgpack(b *testing.B) {
	echo, echoToken := benchRegistry(b, rpc.Options{})
	structs, structToken := structRegistry(b)
	order := map[string]any{
		"customer": map[string]any{"name": "Ada", "email": "ada@example.com"},
		"items":    []any{map[string]any{"sku": "AB-12", "qty": 2}, map[string]any{"sku": "C-7", "qty": 1}, map[string]any{"sku": "XYZ-300", "qty": 5}},
	}
	big := strings.Repeat("abcdefgh", 8<<10)
	for _, c := range []struct {
		name, path, token string
		h                 http.Handler
		body              any
		want              string
	}{
		{"echo", "/v1/echo", echoToken, echo, []any{"world"}, "world"},
		{"order", "/v1/order", structToken, structs, []any{order}, "quantity"},
		{"request-object", "/", echoToken, echo, map[string]any{"jsonrpc": "2.0", "method": "/v1/echo", "params": []any{"world"}, "id": 1}, "world"},
		{"string-64KiB", "/v1/echo", echoToken, echo, []any{big}, "abcdefgh"},
	} {
		body, err := msgpack.Marshal(c.body)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodPost, c.path, nil)
			req.Header.Set("Content-Type", rpc.ContentTypeMsgpack)
			req.Header.Set("Authorization", "Bearer "+c.token)
			post := func() *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				req.Body = readCloser{bytes.NewReader(body)}
				c.h.ServeHTTP(rec, req)
				return rec
			}
			if rec := post(); rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(c.want)) {
				b.Fatalf("unexpected answer %d: %q", rec.Code, rec.Body.Bytes())
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			cpu := benchkit.ProcessCPU()
			for b.Loop() {
				post()
			}
			benchkit.ReportCPU(b, cpu)
		})
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// BenchmarkWebSocketSubscribe times one /subscribe (with an id, so that it
// is answered) on a socket that holds 100 subscriptions, alternately adding
// and removing a 101st name: the cost of changing a socket's set.
func BenchmarkWebSocketSubscribe(b *testing.B) {
	reg, _ := benchRegistry(b, rpc.Options{WebSocket: rpc.WebSocketOptions{MaxMessagesPerSecond: 1 << 30}})
	srv := httptest.NewServer(reg)
	defer srv.Close()
	c := benchDial(b, srv, "")
	ctx := context.Background()
	call := func(msg string) {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			b.Fatal(err)
		}
		if _, reply, err := c.Read(ctx); err != nil || !bytes.Contains(reply, []byte(`"result"`)) {
			b.Fatalf("unexpected answer %s: %v", reply, err)
		}
	}
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("%q", fmt.Sprintf("app/event-%03d", i))
	}
	call(`{"jsonrpc":"2.0","method":"/subscribe","params":[[` + strings.Join(names, ",") + `]],"id":1}`)
	on := `{"jsonrpc":"2.0","method":"/subscribe","params":[["app/extra"]],"id":2}`
	off := `{"jsonrpc":"2.0","method":"/unsubscribe","params":[["app/extra"]],"id":3}`
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i++; i%2 == 1 {
			call(on)
		} else {
			call(off)
		}
	}
}

// BenchmarkWebSocketPublish times one event from Publish to a socket that
// subscribed to it among 100 names, read by the client: the path that
// reads a socket's subscriptions for every event.
func BenchmarkWebSocketPublish(b *testing.B) {
	reg, _ := benchRegistry(b, rpc.Options{})
	srv := httptest.NewServer(reg)
	defer srv.Close()
	c := benchDial(b, srv, "")
	ctx := context.Background()
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("%q", fmt.Sprintf("app/event-%03d", i))
	}
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","method":"/subscribe","params":[[`+strings.Join(names, ",")+`]],"id":1}`)); err != nil {
		b.Fatal(err)
	}
	if _, _, err := c.Read(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := reg.Publish(ctx, "app/event-050", []string{rpc.GroupAll}, 1); err != nil {
			b.Fatal(err)
		}
		if _, msg, err := c.Read(ctx); err != nil || !bytes.Contains(msg, []byte(`"/publish"`)) {
			b.Fatalf("unexpected event %s: %v", msg, err)
		}
	}
}
