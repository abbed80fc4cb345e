package rpc

import (
	"encoding/json"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// jsonToMsgpack gives what MessagePack-decoding the same value gives, for
// the shapes answers take.
func TestJSONToMsgpack(t *testing.T) {
	for _, j := range []string{
		`{}`, `[]`, `[ ]`, `{ }`, `null`, `true`, `false`, `0`, `-1`, `127`, `128`, `-33`, `65536`,
		`1.5`, `-2e10`, `""`, `"a\"b\\c\u00e9\ud83d\ude00"`,
		`{"jsonrpc":"2.0","id":1,"result":{"status":200,"status_text":"OK","exception":false,"data":{"a":[1,2,{"b":"c,d]}"}],"e":{}},"meta":{}}}`,
		` [ 1 , [ [ ] , { } ] , "x" ] `, `[[[[[[1]]]]]]`, `{"a":{"b":{"c":[null,true,"]"]}}}`,
	} {
		b, err := jsonToMsgpack([]byte(j))
		if err != nil {
			t.Fatalf("%s: %v", j, err)
		}
		var got, want any
		if err := msgpack.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: not MessagePack: %v", j, err)
		}
		if err := json.Unmarshal([]byte(j), &want); err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("%s: got %s, want %s", j, gj, wj)
		}
	}
	// Integers too big for a float64 stay exact.
	for j, want := range map[string]any{`9223372036854775807`: uint64(9223372036854775807), `-9223372036854775808`: int64(-9223372036854775808), `18446744073709551615`: uint64(18446744073709551615)} {
		b, err := jsonToMsgpack([]byte(j))
		if err != nil {
			t.Fatal(err)
		}
		var got any
		if err := msgpack.Unmarshal(b, &got); err != nil || got != want {
			t.Errorf("%s: got %v (%T), %v", j, got, got, err)
		}
	}
	for _, bad := range []string{`{`, `[1,`, `"abc`, `{"a" 1}`, `[1 2]`, `tru`, `[1]]`, ``} {
		if _, err := jsonToMsgpack([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
