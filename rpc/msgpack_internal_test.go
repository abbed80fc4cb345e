package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// jsonToMsgpack gives what MessagePack-decoding the same value gives, for
// the shapes answers take.
func TestJSONToMsgpack(t *testing.T) {
	t.Parallel()
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

// msgpackToJSON gives the JSON encoding/json gives for the value msgpack/v5
// decodes: the same text, byte for byte, for every type and escape.
func TestMsgpackToJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, v := range []any{
		nil, true, false, 0, 127, 128, 255, 256, 65535, 65536, 1 << 32, uint64(1) << 63, -1, -32, -33, -128, -129, -32768, -32769, -1 << 31, int64(-1) << 62,
		1.5, -2e10, 1e21, 1e-7, float32(0.5), "", "abc", "a\"b\\c", "\x00\x01\x1f\b\f\n\r\t", "<a href='x'>&</a>", "\u2028\u2029", "é😀\u2027\u202a",
		strings.Repeat("x", 40), strings.Repeat("é", 200), []byte{}, []byte{0, 1, 2, 255}, []any{}, []any{nil, 1, "a", []any{[]any{}}},
		map[string]any{}, map[string]any{"a": map[string]any{"b<": []any{true, nil}}}, time.Unix(1700000000, 123456789).UTC(), time.Unix(1, 0).UTC(),
	} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := msgpackToJSON(b, 1<<20)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		var decoded any
		if err := msgpack.Unmarshal(b, &decoded); err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(decoded)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%#v: got %s, want %s", v, got, want)
		}
	}
}

// The budget holds to the byte, and a declared count or length that could
// not fit is refused before anything is converted.
func TestMsgpackToJSONBudget(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v    any
		json string
	}{
		{[]any{nil, nil}, `[null,null]`},
		{"\x00<", `"\u0000\u003c"`},
		{map[string]any{"": false}, `{"":false}`},
		{[]byte{1, 2, 3}, `"AQID"`},
		{[]any{[]any{}, map[string]any{}}, `[[],{}]`},
	} {
		b, err := msgpack.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := msgpackToJSON(b, int64(len(c.json)))
		if err != nil || string(got) != c.json {
			t.Errorf("%#v within %d: %s, %v", c.v, len(c.json), got, err)
		}
		if _, err := msgpackToJSON(b, int64(len(c.json)-1)); !errors.Is(err, errMsgpackBudget) {
			t.Errorf("%#v within %d: %v, want the budget refused", c.v, len(c.json)-1, err)
		}
	}
	// A million nils in 1 MB: the count alone is refused.
	nils := append([]byte{0xdd, 0x00, 0x0f, 0x42, 0x40}, bytes.Repeat([]byte{0xc0}, 1e6)...)
	if _, err := msgpackToJSON(nils, 1<<20); !errors.Is(err, errMsgpackBudget) {
		t.Errorf("a million nils: %v", err)
	}
	// Counts and lengths beyond the bytes left are refused as such.
	for _, b := range [][]byte{{0xdd, 0xff, 0xff, 0xff, 0xff}, {0xdf, 0, 0, 0, 2, 0xa0}, {0xdb, 0, 0, 1, 0, 'a'}, {0xc6, 0xff, 0, 0, 0}} {
		if _, err := msgpackToJSON(b, 1<<30); err == nil || errors.Is(err, errMsgpackBudget) {
			t.Errorf("%x: %v, want a length past the end", b, err)
		}
	}
}

// FuzzMsgpackToJSON holds msgpackToJSON to msgpack/v5's reading of the
// same bytes: whatever it converts is valid JSON within its budget, and
// means what msgpack/v5 decodes (as encoding/json would write that value).
func FuzzMsgpackToJSON(f *testing.F) {
	for _, v := range []any{nil, []any{1, "a", true}, map[string]any{"a": []any{nil, 1.5, []byte{1}}}, "\x00<\u2028", time.Unix(5, 6)} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(64))
	}
	f.Add([]byte{0xdc, 0, 3, 0xc0, 0xc0, 0xc0}, uint16(14))
	f.Fuzz(func(t *testing.T, b []byte, budget uint16) {
		out, err := msgpackToJSON(b, int64(budget))
		if err != nil {
			return
		}
		if len(out) > int(budget) || !json.Valid(out) {
			t.Fatalf("%x: %d bytes within %d: %s", b, len(out), budget, out)
		}
		var theirs any
		if err := msgpack.Unmarshal(b, &theirs); err != nil {
			return // ext 0 (absent) and what msgpack/v5 refuses
		}
		want, err := json.Marshal(normalizeMsgpack(theirs))
		if err != nil {
			return // NaN and infinities, which msgpackToJSON refuses too
		}
		var got, wantV any
		if json.Unmarshal(out, &got) != nil || json.Unmarshal(want, &wantV) != nil || !reflect.DeepEqual(got, wantV) {
			t.Fatalf("%x: got %s, msgpack/v5 reads %s", b, out, want)
		}
	})
}

// normalizeMsgpack gives what msgpackToJSON writes for a value msgpack/v5
// decoded: float32 widened, times in UTC, maps keyed by strings.
func normalizeMsgpack(v any) any {
	switch v := v.(type) {
	case float32:
		return float64(v)
	case time.Time:
		return v.UTC()
	case []any:
		for i := range v {
			v[i] = normalizeMsgpack(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = normalizeMsgpack(v[k])
		}
	}
	return v
}
