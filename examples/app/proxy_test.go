package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseFlags parses args as the app's command line.
func parseFlags(t *testing.T, args ...string) (config, error) {
	t.Helper()
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cfg config
	defineFlags(fs, &cfg)
	return cfg, fs.Parse(args)
}

func TestProxyFlags(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags(t)
	require.NoError(t, err)
	assert.Empty(t, cfg.ProxyHeader, "by default the connection's address")
	assert.Empty(t, cfg.TrustedProxies, "by default the registry's: loopback")
	assert.Equal(t, 1, cfg.ProxyHops)

	cfg, err = parseFlags(t, "-proxy-header", "X-Forwarded-For", "-proxy-hops", "2",
		"-trusted-proxy", "10.0.0.0/8", "-trusted-proxy", "192.0.2.10, 2001:db8::1,::ffff:198.51.100.1", "-trusted-proxy", "2001:db8:ff::9/48")
	require.NoError(t, err)
	assert.Equal(t, "X-Forwarded-For", cfg.ProxyHeader)
	assert.Equal(t, 2, cfg.ProxyHops)
	assert.Equal(t, prefixes{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("2001:db8::1/128"),
		netip.MustParsePrefix("198.51.100.1/32"), netip.MustParsePrefix("2001:db8:ff::/48"),
	}, cfg.TrustedProxies)

	for _, bad := range []string{"proxy.example.com", "10.0.0.0/33", "10.0.0.1:80"} {
		_, err = parseFlags(t, "-trusted-proxy", bad)
		assert.ErrorContains(t, err, "neither an IP address nor a CIDR prefix", bad)
	}
}

// The app behind a proxy at 10.0.0.1 that passes the client address in
// X-Forwarded-For. A client reaching the app directly and rotating the
// header gets no fresh sign-in allowance; the clients behind the proxy are
// told apart (and so do not share one allowance).
func TestProxyHeaderIsBelievedOnlyFromTheProxy(t *testing.T) {
	t.Parallel()
	flags, err := parseFlags(t, "-proxy-header", "X-Forwarded-For", "-trusted-proxy", "10.0.0.1")
	require.NoError(t, err)
	each(t, func(t *testing.T, a *testApp) {
		h := a.Handler()
		signin := func(peer, forwarded, name string) int {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/session/signin",
				strings.NewReader(fmt.Sprintf(`[{"username":%q,"password":"wrong-password"}]`, name)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", forwarded)
			req.RemoteAddr = peer
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w.Code
		}
		// A name tried from one address: 5 tries at once, then one a minute.
		codes := map[int]int{}
		for i := range 6 {
			codes[signin("198.51.100.7:4711", fmt.Sprintf("192.0.2.%d", i+1), "ann")]++
		}
		assert.Equal(t, map[int]int{401: 5, 429: 1}, codes, "a direct client rotating the header is one address")

		codes = map[int]int{}
		for i := range 6 {
			codes[signin("10.0.0.1:4711", fmt.Sprintf("192.0.2.%d", i+1), "bob")]++
		}
		assert.Equal(t, map[int]int{401: 6}, codes, "the proxy's clients are told apart")
	}, func(c *config) {
		c.ProxyHeader, c.TrustedProxies, c.ProxyHops = flags.ProxyHeader, flags.TrustedProxies, flags.ProxyHops
	})
}
