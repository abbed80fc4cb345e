package rpc_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/auth"
	"github.com/authrpc/authrpc/internal/logbuf"
	"github.com/authrpc/authrpc/rpc"
	"github.com/authrpc/authrpc/rpc/rpctest"
)

// addrRegistry serves /v1/addr, which answers the caller's address as the
// handler sees it, and /v1/busy, which answers 429 with a Retry-After.
func addrRegistry(opts rpc.Options) *rpctest.Client {
	reg := rpc.New(opts)
	m := reg.Section("/v1", "Addresses")
	m.Register(rpc.Method{
		ID: "addr", Title: "Client address", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) (string, error) { return rpc.CallFromContext(ctx).ClientAddr, nil },
	})
	m.Register(rpc.Method{
		ID: "busy", Title: "Busy", Permissions: []string{auth.Anyone},
		Handler: func(ctx context.Context) error {
			return rpc.TooManyRequests("slow down").WithRetryAfter(1500 * time.Millisecond)
		},
	})
	return rpctest.New(reg)
}

// addrOf asks for the address of a request from remote with the given
// header lines.
func addrOf(t *testing.T, c *rpctest.Client, remote, header string, lines ...string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/addr", strings.NewReader("[]"))
	req.RemoteAddr = remote
	for _, l := range lines {
		req.Header.Add(header, l)
	}
	a := c.Do(t, req)
	var s string
	a.Decode(t, &s)
	return s
}

// A client that sends its own X-Forwarded-For line ahead of the proxy's
// must not pick its address: the trusted proxy appends to the last line, so
// the right-most entry across all lines is the one it wrote.
func TestClientAddressAcrossHeaderLines(t *testing.T) {
	t.Parallel()
	c := addrRegistry(rpc.Options{TrustedProxyHeader: "X-Forwarded-For", TrustedProxies: proxyNet})
	const proxy = "10.0.0.1:5555"
	for name, tc := range map[string]struct {
		lines []string
		want  string
	}{
		"one line":               {[]string{"203.0.113.9"}, "203.0.113.9"},
		"a list":                 {[]string{"198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		"the client's own line":  {[]string{"198.51.100.66", "203.0.113.9"}, "203.0.113.9"},
		"lines and lists":        {[]string{"1.1.1.1, 198.51.100.66", "192.0.2.5,203.0.113.9"}, "203.0.113.9"},
		"with a port":            {[]string{"198.51.100.1, 203.0.113.9:4711"}, "203.0.113.9"},
		"IPv6 with a port":       {[]string{"[2001:db8::7]:4711"}, "2001:db8::7"},
		"IPv4 in IPv6":           {[]string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		"garbage from the proxy": {[]string{"203.0.113.9, unknown"}, "10.0.0.1"},
		"an empty last entry":    {[]string{"203.0.113.9,"}, "10.0.0.1"},
		"no header":              {nil, "10.0.0.1"},
	} {
		assert.Equal(t, tc.want, addrOf(t, c, proxy, "X-Forwarded-For", tc.lines...), name)
	}

	real := addrRegistry(rpc.Options{TrustedProxyHeader: "X-Real-IP", TrustedProxies: proxyNet})
	assert.Equal(t, "203.0.113.9", addrOf(t, real, proxy, "X-Real-Ip", "198.51.100.66", "203.0.113.9"),
		"the proxy's line is the last one")
}

// proxyNet is where the tests' proxies are.
var proxyNet = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}

// Behind two proxies that each append, the client is two entries from the
// right; with fewer entries, the left-most one (a trusted proxy wrote it).
// Reading from the right stops at the first entry that is not a trusted
// proxy: a client that reaches the second proxy directly is keyed on its
// own address, not on the entry it wrote.
func TestClientAddressHops(t *testing.T) {
	t.Parallel()
	c := addrRegistry(rpc.Options{TrustedProxyHeader: "X-Forwarded-For", TrustedProxies: proxyNet, TrustedProxyHops: 2})
	const proxy = "10.0.0.2:5555"
	assert.Equal(t, "203.0.113.9", addrOf(t, c, proxy, "X-Forwarded-For", "198.51.100.66, 203.0.113.9, 10.0.0.1"))
	assert.Equal(t, "203.0.113.9", addrOf(t, c, proxy, "X-Forwarded-For", "198.51.100.66", "203.0.113.9, 10.0.0.1"))
	assert.Equal(t, "203.0.113.9", addrOf(t, c, proxy, "X-Forwarded-For", "203.0.113.9"))
	assert.Equal(t, "203.0.113.9", addrOf(t, c, proxy, "X-Forwarded-For", "198.51.100.66, 203.0.113.9"),
		"a client that went around the first proxy")
	assert.Equal(t, "10.0.0.5", addrOf(t, c, proxy, "X-Forwarded-For", "198.51.100.66, 10.0.0.5, 10.0.0.1"),
		"no further than the hops")
	assert.Equal(t, "10.0.0.2", addrOf(t, c, proxy, "X-Forwarded-For", "198.51.100.66, unknown, 10.0.0.1"),
		"garbage where the client should be")
}

// The header is believed only from a listed proxy, and by default only from
// loopback: a proxy on the same host.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	const xff = "X-Forwarded-For"
	def := addrRegistry(rpc.Options{TrustedProxyHeader: xff})
	for remote, want := range map[string]string{
		"127.0.0.1:5555":        "203.0.113.9",
		"127.10.0.1:5555":       "203.0.113.9",
		"[::1]:5555":            "203.0.113.9",
		"[::ffff:127.0.0.1]:80": "203.0.113.9",
		"10.0.0.1:5555":         "10.0.0.1",
		"192.168.1.1:5555":      "192.168.1.1",
		"[2001:db8::1]:5555":    "2001:db8::1",
	} {
		assert.Equal(t, want, addrOf(t, def, remote, xff, "203.0.113.9"), "by default, from %s", remote)
	}

	listed := addrRegistry(rpc.Options{TrustedProxyHeader: xff, TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("2001:db8:ff::/48"), netip.MustParsePrefix("192.0.2.10/32"),
	}})
	for remote, want := range map[string]string{
		"10.1.2.3:5555":           "203.0.113.9",
		"[2001:db8:ff:1::9]:5555": "203.0.113.9",
		"192.0.2.10:5555":         "203.0.113.9",
		"192.0.2.11:5555":         "192.0.2.11",
		"10.2.0.1:5555":           "10.2.0.1",
		"127.0.0.1:5555":          "127.0.0.1",
	} {
		assert.Equal(t, want, addrOf(t, listed, remote, xff, "203.0.113.9"), "listed, from %s", remote)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	t.Parallel()
	c := addrRegistry(rpc.Options{})
	a := c.Post(t, "/v1/busy", "[]")
	assert.Equal(t, 429, a.HTTP)
	assert.Equal(t, "2", a.Header.Get("Retry-After"), "whole seconds, rounded up")
	a = c.Post(t, "/v1/addr", "[]")
	assert.Empty(t, a.Header.Get("Retry-After"))
}

// A client that reaches the server directly, not through the proxy, must
// not choose its address by writing the proxy's header: rotating it used
// to give each request a fresh address, and so a fresh rate-limit bucket.
func TestProxyHeaderFromADirectPeerIsIgnored(t *testing.T) {
	t.Parallel()
	logs := new(logbuf.Buffer)
	c := addrRegistry(rpc.Options{TrustedProxyHeader: "X-Forwarded-For", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	for i := range 5 {
		forged := fmt.Sprintf("192.0.2.%d", i+1)
		assert.Equal(t, "198.51.100.7", addrOf(t, c, "198.51.100.7:5555", "X-Forwarded-For", forged))
		assert.Equal(t, "2001:db8::7", addrOf(t, c, "[2001:db8::7]:5555", "X-Forwarded-For", forged))
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "not a trusted proxy"), "warned once: %s", logs)
	assert.Contains(t, logs.String(), "peer=198.51.100.7")
}
