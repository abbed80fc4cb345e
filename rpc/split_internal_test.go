package rpc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSplitArray holds splitArray to what json.Unmarshal into
// []json.RawMessage gives for every well-formed array.
func FuzzSplitArray(f *testing.F) {
	for _, s := range []string{
		`[]`, `[ ]`, `[1]`, `[ 1 , "a" ]`, `["a,b", "c\"]d", "\\"]`, `[[1,2],{"a":[3,"]"]},null]`,
		`[{"x":"}"},[[]],[{}]]`, "[\n\t1\r\n,\n2\n]", `["\u005d", "\\\\"]`, `[true,false,-1.5e3]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		b = bytes.TrimSpace(b)
		if len(b) == 0 || b[0] != '[' || !json.Valid(b) {
			t.Skip()
		}
		var want []json.RawMessage
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		got := splitArray(b)
		if len(got) != len(want) {
			t.Fatalf("%s: %d elements, want %d", b, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%s: element %d is %q, want %q", b, i, got[i], want[i])
			}
		}
	})
}
