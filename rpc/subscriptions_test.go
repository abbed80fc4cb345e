package rpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/rpc"
)

// subscribeFrame is a /subscribe of names, with an id.
func subscribeFrame(id int, names []string) string {
	list, _ := json.Marshal(names)
	return fmt.Sprintf(`{"jsonrpc":"2.0","method":"/subscribe","params":[%s],"id":%d}`, list, id)
}

// TestSubscriptionMemoryIsBounded is the attack: one guest socket sends 20
// messages of 1 MiB of distinct event names to /subscribe. What the socket
// holds afterwards stays under 2 MiB (the bound is 128 names of 128 bytes;
// without one it held them all: +25 MB). (Not parallel: it reads
// the whole process's heap.)
func TestSubscriptionMemoryIsBounded(t *testing.T) {
	f := newFixture(t, rpc.Options{})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	s := dialWS(t, srv, "")
	s.sendText(`{"jsonrpc":"2.0","method":"/ping","id":0}`)
	s.readText()
	runtime.GC()
	before := heapInuse()
	for frame := range 20 {
		names := make([]string, 0, 10_000)
		for i := range cap(names) {
			names = append(names, fmt.Sprintf("app/%02d/%05d/%s", frame, i, strings.Repeat("x", 80)))
		}
		msg := subscribeFrame(frame+1, names)
		require.Less(t, len(msg), 1<<20)
		s.sendText(msg)
	}
	for range 20 {
		s.readText() // every message is answered, so none is still being handled
	}
	runtime.GC()
	held := int64(heapInuse()) - int64(before)
	t.Logf("the socket holds +%d KiB after 20 MiB of names", held>>10)
	assert.Less(t, held, int64(2<<20), "the socket holds %d MB of subscriptions", held>>20)
	runtime.KeepAlive(s)
}

// TestSubscriptionBounds: past MaxSubscriptions or MaxEventNameBytes a name
// is not subscribed; a /subscribe with an id answers 400 saying so, a void
// one is ignored, and both are counted. The names within the bounds are
// subscribed as before.
func TestSubscriptionBounds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{WebSocket: rpc.WebSocketOptions{MaxSubscriptions: 3, MaxEventNameBytes: 8}})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	s := dialWS(t, srv, "")

	s.sendText(subscribeFrame(1, []string{"a", "b"}))
	assert.Contains(t, s.readText(), `"result"`)
	s.sendText(subscribeFrame(2, []string{"b", "c", "d", "e"})) // b again costs nothing; c is the third
	refused := s.readText()
	assert.Contains(t, refused, `"code":400`)
	assert.Contains(t, refused, `2 event names not subscribed: a socket subscribes to at most 3 names of at most 8 bytes`)
	assert.Contains(t, refused, `"id":2`)
	s.sendText(`{"jsonrpc":"2.0","method":"/unsubscribe","params":[["a"]],"id":3}`)
	assert.Contains(t, s.readText(), `"result"`)
	s.sendText(subscribeFrame(4, []string{"123456789"})) // 9 bytes
	assert.Contains(t, s.readText(), `1 event names not subscribed`)
	s.sendText(`{"jsonrpc":"2.0","method":"/subscribe","params":["d", "\u0065"],"id":5}`) // [names], escaped: d and e
	assert.Contains(t, s.readText(), `1 event names not subscribed`)                      // d took a's place
	s.sendText(`{"jsonrpc":"2.0","method":"/subscribe","params":[["x","y"]]}`)            // void: no answer
	s.sendText(`{"jsonrpc":"2.0","method":"/ping","id":6}`)
	assert.Contains(t, s.readText(), `"/pong"`)
	assert.Eventually(t, func() bool { return f.reg.Refusals().Subscriptions == 6 }, 5*time.Second, time.Millisecond,
		"refused: %+v", f.reg.Refusals())

	ctx := context.Background()
	for _, name := range []string{"a", "b", "c", "d", "e", "x", "123456789"} {
		require.NoError(t, f.reg.Publish(ctx, name, []string{rpc.GroupAll}))
	}
	for _, name := range []string{"b", "c", "d"} {
		assert.Equal(t, `{"jsonrpc":"2.0","method":"/publish","params":["`+name+`"]}`, s.readText())
	}
	s.quiet()
}

// TestSubscriptionsChangeWhileEventsFlow changes a socket's subscriptions
// while events are pushed to it, for the race detector: the set is changed
// in place, under the lock events read it with.
func TestSubscriptionsChangeWhileEventsFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	s := dialWS(t, srv, "")
	s.sendText(subscribeFrame(1, []string{"e0"}))
	assert.Contains(t, s.readText(), `"result"`)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			if err := f.reg.Publish(context.Background(), fmt.Sprintf("e%d", i%4), []string{rpc.GroupAll}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range 50 {
		method := "/subscribe"
		if i%2 == 1 {
			method = "/unsubscribe"
		}
		s.sendText(fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":[["e%d","e%d"]]}`, method, i%4, (i+1)%4))
	}
	<-done
	s.sendText(`{"jsonrpc":"2.0","method":"/ping","id":1}`)
	for {
		if msg := s.readText(); strings.Contains(msg, `"/pong"`) {
			break
		} else {
			assert.Contains(t, msg, `"/publish"`) // once subscribed, events come as /publish only
		}
	}
}
