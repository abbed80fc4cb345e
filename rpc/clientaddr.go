package rpc

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// loopback is the default of Options.TrustedProxies: a proxy on the same host.
func loopback() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// clientAddr returns the caller's address: the connection's, unless it
// comes from a trusted proxy and the proxy's header names the client (see
// forwardedEntry); an entry that is not an IP address (with or without a
// port) gives the connection's address.
func (r *Registry) clientAddr(req *http.Request) string {
	host := req.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if r.proxyKey == "" {
		return host
	}
	lines := req.Header[r.proxyKey]
	if len(lines) == 0 {
		return host
	}
	if peer, err := netip.ParseAddr(host); err != nil || !r.trustedProxy(peer) {
		r.warnProxy.Do(func() {
			r.log.WarnContext(req.Context(), "rpc: a request carried the proxy header from a peer that is not a trusted proxy: the header is ignored (list the proxy in Options.TrustedProxies if it is one)",
				"header", r.opts.TrustedProxyHeader, "peer", host)
		})
		return host
	}
	if a, ok := parseAddr(forwardedEntry(lines, r.opts.TrustedProxyHops, r.trustedProxy)); ok {
		return a.Unmap().String()
	}
	return host
}

// trustedProxy reports whether a is one of Options.TrustedProxies.
func (r *Registry) trustedProxy(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range r.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func parseAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil { // "203.0.113.9:4711", "[2001:db8::7]:4711"
		return ap.Addr(), true
	}
	return netip.Addr{}, false
}

// forwardedEntry returns the entry of a proxy header that names the client.
// The header's lines are one comma-separated list, read from the right:
// each proxy appends to the last line, so the entries on the right are the
// proxies' and whatever is left of them, other lines included, the client
// may have written. Reading at most hops entries, the client is the first
// that is not itself a trusted proxy (a proxy in front of the one that
// connected, as nginx's real_ip_recursive reads it); with hops entries read
// and all trusted, the last read; with fewer entries, the left-most, as a
// trusted proxy wrote it too.
func forwardedEntry(lines []string, hops int, trusted func(netip.Addr) bool) string {
	hops = max(hops, 1)
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			j := strings.LastIndexByte(line, ',')
			entry := strings.TrimSpace(line[j+1:])
			hops--
			if hops == 0 || (j < 0 && i == 0) || !isTrusted(entry, trusted) {
				return entry
			}
			if j < 0 {
				break
			}
			line = line[:j]
		}
	}
	return ""
}

func isTrusted(entry string, trusted func(netip.Addr) bool) bool {
	a, ok := parseAddr(entry)
	return ok && trusted(a)
}
