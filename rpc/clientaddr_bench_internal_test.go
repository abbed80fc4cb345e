package rpc

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
)

// BenchmarkClientAddr measures the address of a request behind a proxy,
// beside the same request read as before proxies were checked (the header
// believed from any peer: the same split, entry and parse, without the
// peer's check), and beside a registry with no header named.
func BenchmarkClientAddr(b *testing.B) {
	req := httptest.NewRequest(http.MethodPost, "/v1/x", nil)
	req.RemoteAddr = "10.0.0.1:4711"
	req.Header.Set("X-Forwarded-For", "198.51.100.66, 203.0.113.9")
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	var sink string

	b.Run("no header named", func(b *testing.B) {
		r := New(Options{})
		for b.Loop() {
			sink = r.clientAddr(req)
		}
	})
	b.Run("believed from any peer (before)", func(b *testing.B) {
		r := New(Options{TrustedProxyHeader: "X-Forwarded-For"})
		for b.Loop() {
			host := req.RemoteAddr
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if a, ok := parseAddr(forwardedEntry(req.Header[r.proxyKey], 1, nil)); ok {
				host = a.Unmap().String()
			}
			sink = host
		}
	})
	b.Run("from a trusted proxy", func(b *testing.B) {
		r := New(Options{TrustedProxyHeader: "X-Forwarded-For", TrustedProxies: proxies})
		for b.Loop() {
			sink = r.clientAddr(req)
		}
	})
	b.Run("two hops, both trusted", func(b *testing.B) {
		r := New(Options{TrustedProxyHeader: "X-Forwarded-For", TrustedProxies: proxies, TrustedProxyHops: 2})
		req := req.Clone(req.Context())
		req.Header.Set("X-Forwarded-For", "198.51.100.66, 203.0.113.9, 10.0.0.2")
		for b.Loop() {
			sink = r.clientAddr(req)
		}
	})
	if sink != "203.0.113.9" {
		b.Fatalf("address %q", sink)
	}
}

// BenchmarkSocketReserve measures counting a socket in and out per client
// address, beside the single atomic count it replaced, from parallel
// goroutines on 1,000 addresses.
func BenchmarkSocketReserve(b *testing.B) {
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "203.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	b.Run("one count (before)", func(b *testing.B) {
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if n.Add(1) > 10_000 {
					b.Fatal("full")
				}
				n.Add(-1)
			}
		})
	})
	b.Run("per address", func(b *testing.B) {
		a := newActiveCalls(10_000, 200)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				k := keys[i%len(keys)]
				if ok, _ := a.admit(k); !ok {
					b.Fatal("full")
				}
				a.leave(k)
			}
		})
	})
}
