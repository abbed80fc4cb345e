package rpc_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/authrpc/authrpc/auth"
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
	c := addrRegistry(rpc.Options{TrustedProxyHeader: "X-Forwarded-For"})
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

	real := addrRegistry(rpc.Options{TrustedProxyHeader: "X-Real-IP"})
	assert.Equal(t, "203.0.113.9", addrOf(t, real, proxy, "X-Real-Ip", "198.51.100.66", "203.0.113.9"),
		"the proxy's line is the last one")
}

// Behind two proxies that each append, the client is two entries from the
// right; with fewer entries, the left-most one (a trusted proxy wrote it).
func TestClientAddressHops(t *testing.T) {
	c := addrRegistry(rpc.Options{TrustedProxyHeader: "X-Forwarded-For", TrustedProxyHops: 2})
	const proxy = "10.0.0.2:5555"
	assert.Equal(t, "203.0.113.9", addrOf(t, c, proxy, "X-Forwarded-For", "198.51.100.66, 203.0.113.9, 10.0.0.1"))
	assert.Equal(t, "203.0.113.9", addrOf(t, c, proxy, "X-Forwarded-For", "198.51.100.66", "203.0.113.9, 10.0.0.1"))
	assert.Equal(t, "203.0.113.9", addrOf(t, c, proxy, "X-Forwarded-For", "203.0.113.9"))
}

func TestRetryAfterHeader(t *testing.T) {
	c := addrRegistry(rpc.Options{})
	a := c.Post(t, "/v1/busy", "[]")
	assert.Equal(t, 429, a.HTTP)
	assert.Equal(t, "2", a.Header.Get("Retry-After"), "whole seconds, rounded up")
	a = c.Post(t, "/v1/addr", "[]")
	assert.Empty(t, a.Header.Get("Retry-After"))
}
