package rpc_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/authrpc/authrpc/rpc"
)

// FuzzMessagePack sends arbitrary MessagePack bodies through the whole
// handler: whatever arrives, the answer is a MessagePack envelope with
// exactly one of result and error, and never a 5xx.
func FuzzMessagePack(f *testing.F) {
	for _, v := range []any{
		[]any{}, []any{"a", true}, []any{"a", true, 5}, "a", nil, []any{nil, nil},
		[]any{map[string]any{"username": "bob", "port": 80, "tags": []string{"a"}}},
		map[string]any{"jsonrpc": "2.0", "method": "/v1/f/simple", "params": []any{"a", false}, "id": 1},
		map[string]any{"jsonrpc": "2.0", "method": "/v1/f/struct", "params": map[string]any{"fields": map[string]any{"username": "abc"}}},
		[]any{1.5, -3, uint64(1) << 63, []byte{1, 2}},
	} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xd4, 0x00, 0x00})                                                     // the 4.x client's absent value
	f.Add([]byte{0x82, 0xa6, 'm', 'e', 't', 'h', 'o', 'd', 0xa1, '/', 0xa1, 'x', 0xc1}) // a reserved byte
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})                                         // an array that promises 4G items
	f.Add([]byte{0xd6, 0xff, 0, 0, 0, 1})                                               // a timestamp
	// What a body may decode to is bounded before it is allocated: counts
	// and lengths that promise more than the bytes left, and bodies whose
	// JSON would be past the limit (256 bytes below) or that hold more
	// parameters than a method may take.
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})                             // a map that promises 4G entries
	f.Add([]byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'})                        // a string that promises 4 GB
	f.Add([]byte{0xc6, 0xff, 0xff, 0xff, 0xff, 0})                          // binary that promises 4 GB
	f.Add([]byte{0xc9, 0xff, 0xff, 0xff, 0xff, 0xff})                       // an extension that promises 4 GB
	f.Add(append([]byte{0xdc, 0, 60}, bytes.Repeat([]byte{0xc0}, 60)...))   // 60 nils: 300 bytes of JSON
	f.Add(append([]byte{0xdc, 0, 70}, bytes.Repeat([]byte{0x01}, 70)...))   // 70 parameters: 141 bytes of JSON
	f.Add(append([]byte{0x91, 0xd9, 50}, bytes.Repeat([]byte{0}, 50)...))   // 50 NULs: 302 bytes of JSON
	f.Add(append([]byte{0x91, 0xd9, 40}, bytes.Repeat([]byte{'<'}, 40)...)) // 40 HTML characters, escaped
	f.Add([]byte{0x83, 0xa7, 'j', 's', 'o', 'n', 'r', 'p', 'c', 0xa3, '2', '.', '0', 0xa6, 'm', 'e', 't', 'h', 'o', 'd', 0xa1, '/',
		0xa6, 'p', 'a', 'r', 'a', 'm', 's', 0xdc, 0, 70, 0xc0}) // a request object's params promising 70 items in 1 byte
	reg := fuzzRegistry()
	small := fuzzRegistry(func(o *rpc.Options) { o.MaxBodyBytes = 256 })
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, c := range []struct {
			reg  *rpc.Registry
			path string
		}{{reg, "/v1/f/simple"}, {reg, "/v1/f/struct"}, {reg, "/"}, {small, "/v1/f/simple"}, {small, "/"}} {
			path := c.path
			r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			r.Header.Set("Content-Type", rpc.ContentTypeMsgpack)
			w := httptest.NewRecorder()
			c.reg.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%s %x: HTTP %d", path, body, w.Code)
			}
			if ct := w.Header().Get("Content-Type"); ct != rpc.ContentTypeMsgpack {
				t.Fatalf("%s %x: answered %s", path, body, ct)
			}
			var env map[string]any
			if err := msgpack.Unmarshal(w.Body.Bytes(), &env); err != nil {
				t.Fatalf("%s %x: the answer is not MessagePack: %v", path, body, err)
			}
			_, isResult := env["result"]
			_, isError := env["error"]
			if env["jsonrpc"] != "2.0" || isResult == isError {
				t.Fatalf("%s %x: malformed envelope %v", path, body, env)
			}
		}
	})
}
