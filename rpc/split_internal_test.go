package rpc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/authrpc/authrpc/rpc/internal/jsoncheck"
)

var splitSeeds = []string{
	`[]`, `[ ]`, `[1]`, `[ 1 , "a" ]`, `["a,b", "c\"]d", "\\"]`, `[[1,2],{"a":[3,"]"]},null]`,
	`[{"x":"}"},[[]],[{}]]`, "[\n\t1\r\n,\n2\n]", `["\u005d", "\\\\"]`, `[true,false,-1.5e3]`,
	`[1,]`, `[,1]`, `[1 2]`, `["\x"]`, `["\u12"]`, `["\u12g4"]`, "[\"\t\"]", `[01]`, `[1.]`, `[-]`, `[1e]`,
	`[tru]`, `[nul]`, `[{"a"}]`, `[{"a":1,}]`, `[{1:2}]`, `[] x`, `[]]`, `[1]`, `["é"]`, `[{"a":"\ud800"}]`,
}

// FuzzSplitArray holds splitValid to json.Valid on any bytes (it may
// refuse what is valid, never accept what is not), and both splitters to
// what json.Unmarshal into []json.RawMessage gives for every well-formed
// array.
func FuzzSplitArray(f *testing.F) {
	for _, s := range splitSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		b = bytes.TrimSpace(b)
		if !utf8.Valid(b) {
			t.Skip() // refused before either runs
		}
		fast, ok := splitValid(b, nil, nil)
		valid := json.Valid(b)
		if ok && !valid {
			t.Fatalf("%s: splitValid accepts what json.Valid refuses", b)
		}
		if len(b) == 0 || b[0] != '[' || !valid {
			return
		}
		if !ok && strings.Count(string(b), "[")+strings.Count(string(b), "{") < jsoncheck.MaxDepth {
			t.Fatalf("%s: splitValid refuses a well-formed array", b)
		}
		var want []json.RawMessage
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		for name, got := range map[string][]json.RawMessage{"splitArray": splitArray(b), "splitValid": fast} {
			if name == "splitValid" && !ok {
				continue
			}
			if len(got) != len(want) {
				t.Fatalf("%s: %s gives %d elements, want %d", b, name, len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("%s: %s gives element %d as %q, want %q", b, name, i, got[i], want[i])
				}
			}
		}
	})
}

// TestSplitValidDepth checks the nesting splitValid leaves to
// encoding/json: it never accepts an array json.Valid refuses as too deep.
func TestSplitValidDepth(t *testing.T) {
	t.Parallel()
	for _, depth := range []int{9998, 9999, 10000, 10001, 10002} {
		b := []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth))
		if _, ok := splitValid(b, nil, nil); ok && !json.Valid(b) {
			t.Errorf("depth %d: accepted, json.Valid refuses", depth)
		}
	}
}
