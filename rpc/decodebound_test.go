package rpc_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/rpc"
)

// Bodies an attacker sends to make a small message decode to much more
// memory than its bytes: MessagePack that expands on its way to JSON (a nil
// is one byte and "null," five; a NUL in a string one byte and "\u0000"
// six), and JSON whose many small items each cost a slice header or a map
// entry once split. Each is just under 1 MiB.
const attackBytes = 1<<20 - 64

// msgpackArrayHead is the header of a MessagePack array of n items.
func msgpackArrayHead(n int) []byte {
	return binary.BigEndian.AppendUint32([]byte{0xdd}, uint32(n))
}

// msgpackStr appends a MessagePack string.
func msgpackStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(len(s)))
	return append(b, s...)
}

// msgpackRequest is a request object at the mount root calling method,
// with params given as MessagePack.
func msgpackRequest(method string, params []byte) []byte {
	b := []byte{0x83}
	b = msgpackStr(b, "jsonrpc")
	b = msgpackStr(b, "2.0")
	b = msgpackStr(b, "method")
	b = msgpackStr(b, method)
	b = msgpackStr(b, "params")
	return append(b, params...)
}

func nils(n int) []byte { return append(msgpackArrayHead(n), bytes.Repeat([]byte{0xc0}, n)...) }

func nulString(n int) []byte { return msgpackStr(msgpackArrayHead(1), strings.Repeat("\x00", n)) }

// msgpackNamed is a map of n distinct keys, each to nil.
func msgpackNamed(n int) []byte {
	b := binary.BigEndian.AppendUint32([]byte{0xdf}, uint32(n))
	for i := range n {
		b = append(b, 0xa7)
		b = fmt.Appendf(b, "k%06d", i)
		b = append(b, 0xc0)
	}
	return b
}

func jsonZeros(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("0,", n), ",") + "]" }

func jsonNamed(n int) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"k%06d":0`, i)
	}
	sb.WriteByte('}')
	return sb.String()
}

type attack struct {
	name, path, contentType string
	body                    []byte
}

func decodeAttacks() []attack {
	const mp, js = rpc.ContentTypeMsgpack, "application/json"
	n := attackBytes - 64
	var out []attack
	for _, path := range []string{"/v1/t/echo", "/v1/t/create"} { // a guest may call echo, not create
		out = append(out,
			attack{"msgpack nils " + path, path, mp, nils(n)},
			attack{"msgpack NUL string " + path, path, mp, nulString(n)},
			attack{"json zeros " + path, path, js, []byte(jsonZeros(n / 2))},
		)
	}
	for _, method := range []string{"/v1/t/echo", "/v1/t/create"} {
		out = append(out,
			attack{"msgpack request object, nils, " + method, "/", mp, msgpackRequest(method, nils(n))},
			attack{"msgpack request object, NUL string, " + method, "/", mp, msgpackRequest(method, nulString(n))},
			attack{"msgpack request object, named, " + method, "/", mp, msgpackRequest(method, msgpackNamed(n/9))},
			attack{"json request object, zeros, " + method, "/", js,
				[]byte(`{"jsonrpc":"2.0","method":"` + method + `","params":` + jsonZeros(n/2) + `}`)},
			attack{"json request object, named, " + method, "/", js,
				[]byte(`{"jsonrpc":"2.0","method":"` + method + `","params":` + jsonNamed(n/13) + `}`)},
		)
	}
	return out
}

// allocated returns the bytes the process has allocated so far.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestDecodeIsBoundedByTheBody: what a guest's body decodes to is bounded
// before it is allocated, for MessagePack and JSON alike: serving each of
// the bodies above allocates at most 3 times its bytes, whatever the
// method and whether or not the guest may call it. (Not parallel: it
// counts what the whole process allocates.)
func TestDecodeIsBoundedByTheBody(t *testing.T) {
	f := newFixture(t, rpc.Options{})
	for _, a := range decodeAttacks() {
		require.Less(t, len(a.body), 1<<20, a.name)
		req := httptest.NewRequest(http.MethodPost, a.path, nil)
		req.Header.Set("Content-Type", a.contentType)
		req.ContentLength = int64(len(a.body))
		rec := httptest.NewRecorder()
		runtime.GC()
		before := allocated()
		req.Body = readCloser{bytes.NewReader(a.body)}
		f.reg.ServeHTTP(rec, req)
		got := allocated() - before
		assert.GreaterOrEqual(t, rec.Code, 400, "%s: %s", a.name, firstBytes(rec.Body.Bytes()))
		assert.Less(t, rec.Code, 500, "%s: %s", a.name, firstBytes(rec.Body.Bytes()))
		assert.LessOrEqual(t, got, uint64(3*len(a.body)+256<<10), "%s: %d bytes allocated for a body of %d (%.1fx): %s",
			a.name, got, len(a.body), float64(got)/float64(len(a.body)), firstBytes(rec.Body.Bytes()))
		t.Logf("%s: %.2fx, answered %d %s", a.name, float64(got)/float64(len(a.body)), rec.Code, firstBytes(rec.Body.Bytes()))
	}
}

func firstBytes(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

// TestDecodeAttackMemory is the attack end to end: 32 MessagePack bodies of
// 1 MiB in flight at once over HTTP, and one guest socket sending 16 frames
// of the same, take less than 200 MB. It counts every byte the process
// allocates meanwhile (clients included), which bounds how much the heap
// can have grown, and logs the heap's peak as sampled. (Not parallel: it
// counts what the whole process allocates.)
func TestDecodeAttackMemory(t *testing.T) {
	f := newFixture(t, rpc.Options{})
	srv := httptest.NewServer(f.reg)
	defer srv.Close()
	bodies := [][]byte{
		nils(attackBytes - 64), nulString(attackBytes - 64),
		msgpackRequest("/v1/t/echo", nils(attackBytes-128)), msgpackRequest("/v1/t/echo", nulString(attackBytes-128)),
	}
	ws := dialWS(t, srv, "")
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 32, MaxIdleConnsPerHost: 32}}
	defer client.CloseIdleConnections()

	runtime.GC()
	base := heapInuse()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak.Store(max(peak.Load(), heapInuse()))
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	before := allocated()

	var wg sync.WaitGroup
	codes := make([]int, 32)
	for i := range 32 {
		wg.Go(func() {
			path := "/v1/t/echo"
			if i%4 >= 2 {
				path = "/"
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(bodies[i%4]))
			if !assert.NoError(t, err) {
				return
			}
			req.Header.Set("Content-Type", rpc.ContentTypeMsgpack)
			res, err := client.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			defer res.Body.Close()
			codes[i] = res.StatusCode
		})
	}
	for i := range 16 {
		ws.send(websocket.MessageBinary, msgpackFrame(i, bodies[i%2]))
	}
	for range 16 {
		ws.read() // each frame is answered (an error, without an id)
	}
	wg.Wait()
	got := allocated() - before
	close(stop)
	<-sampled
	for i, c := range codes {
		assert.True(t, c >= 400 && c < 500, "body %d: HTTP %d", i, c)
	}
	t.Logf("allocated %d MB, heap in use peaked at +%d MB", got>>20, (int64(peak.Load())-int64(base))>>20)
	assert.Less(t, got, uint64(200<<20), "allocated %d MB serving 32 bodies and 16 frames of 1 MiB", got>>20)
}

// msgpackFrame is a call of /v1/t/echo with params given as MessagePack.
func msgpackFrame(id int, params []byte) []byte {
	b := []byte{0x84}
	b = msgpackStr(b, "jsonrpc")
	b = msgpackStr(b, "2.0")
	b = msgpackStr(b, "method")
	b = msgpackStr(b, "/v1/t/echo")
	b = msgpackStr(b, "id")
	b = append(b, byte(id))
	b = msgpackStr(b, "params")
	return append(b, params...)
}

func heapInuse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestParamsBound: a body holds at most one more parameter than a method
// may take (64): past it the call answers "too many parameters" once the
// caller may call the method, over HTTP, in an upload's params part and in
// a request object by name; a method may not declare more.
func TestParamsBound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rpc.Options{UploadDir: t.TempDir()})
	many := jsonZeros(65)
	for _, c := range []struct{ path, body string }{
		{"/v1/t/echo", many},
		{"/", `{"jsonrpc":"2.0","method":"/v1/t/echo","params":` + many + `}`},
		{"/", `{"jsonrpc":"2.0","method":"/v1/t/echo","params":` + jsonNamed(65) + `}`},
	} {
		a := f.c.Post(t, c.path, c.body)
		assert.Equal(t, rpc.CodeInvalidParams, a.Code, a.Raw)
		assert.Contains(t, a.Message, "too many parameters: a method takes at most 64", a.Raw)
	}
	a := f.c.Post(t, "/v1/t/echo", jsonZeros(64)) // within the bound: the method's own count answers
	assert.Contains(t, a.Message, "too many parameters: the method takes 1, got 64", a.Raw)
	a = f.c.Post(t, "/", `{"jsonrpc":"2.0","method":"/v1/t/create","params":`+many+`}`)
	assert.Equal(t, rpc.CodeInsufficientPermissions, a.Code, "a guest learns nothing of the params: %s", a.Raw)
	a = f.c.Do(t, multipartRequest(t, "/v1/t/upload", map[string]string{"params": many}, "a.txt", []byte("x")))
	assert.Equal(t, rpc.CodeInvalidParams, a.Code, a.Raw)
	assert.Contains(t, a.Message, "at most 64", a.Raw)

	params := make([]rpc.Param, 65)
	for i := range params {
		params[i] = rpc.Param{Name: fmt.Sprintf("p%d", i)}
	}
	assert.PanicsWithValue(t, "rpc: register /v1/many: 65 params: a method takes at most 64", func() {
		f.reg.Register(rpc.Method{ID: "/v1/many", Title: "Many", Permissions: []string{auth.Anyone}, Params: params,
			Handler: func(ctx context.Context) error { return nil }})
	})
}
