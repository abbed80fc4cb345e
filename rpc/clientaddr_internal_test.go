package rpc

import (
	"net/netip"
	"strings"
	"testing"
)

// forwardedEntry must agree with the plain reading: all lines joined into
// one list, read from the right for at most hops entries, stopping at the
// first that is not a trusted proxy (the left-most when there are fewer).
func FuzzForwardedEntry(f *testing.F) {
	f.Add("203.0.113.9", 1)
	f.Add("198.51.100.66\n203.0.113.9", 1)
	f.Add("1.1.1.1, 2.2.2.2\n3.3.3.3,4.4.4.4", 3)
	f.Add("198.51.100.66, 203.0.113.9, 10.0.0.1", 3)
	f.Add("10.0.0.3\n10.0.0.2, 10.0.0.1:80", 3)
	f.Add(",\n,", 2)
	proxies := netip.MustParsePrefix("10.0.0.0/8")
	trusted := func(a netip.Addr) bool { return proxies.Contains(a) }
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
			for k := 1; k <= hops && k <= len(list); k++ {
				want = strings.TrimSpace(list[len(list)-k])
				if a, ok := parseAddr(want); !ok || !trusted(a) {
					break
				}
			}
		}
		if got := forwardedEntry(lines, hops, trusted); got != want {
			t.Fatalf("forwardedEntry(%q, %d) = %q, want %q", lines, hops, got, want)
		}
	})
}
