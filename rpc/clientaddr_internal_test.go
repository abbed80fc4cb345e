package rpc

import (
	"strings"
	"testing"
)

// trustedEntry must agree with the plain reading: all lines joined into one
// list, the entry hops from the right (the left-most when there are fewer).
func FuzzTrustedEntry(f *testing.F) {
	f.Add("203.0.113.9", 1)
	f.Add("198.51.100.66\n203.0.113.9", 1)
	f.Add("1.1.1.1, 2.2.2.2\n3.3.3.3,4.4.4.4", 3)
	f.Add(",\n,", 2)
	f.Fuzz(func(t *testing.T, header string, hops int) {
		hops = hops%8 + 1
		if hops < 1 {
			hops += 8
		}
		var lines []string
		if header != "" {
			lines = strings.Split(header, "\n")
		}
		want := ""
		if len(lines) > 0 {
			list := strings.Split(strings.Join(lines, ","), ",")
			want = strings.TrimSpace(list[max(0, len(list)-hops)])
		}
		if got := trustedEntry(lines, hops); got != want {
			t.Fatalf("trustedEntry(%q, %d) = %q, want %q", lines, hops, got, want)
		}
	})
}
