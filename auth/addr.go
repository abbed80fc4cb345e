package auth

import "net/netip"

// AddrKey returns the rate-limit key of a client address: an IPv4 address as
// it is, and for an IPv6 address its /64 prefix ("2001:db8:1:2::/64"), since
// one subscriber usually holds a whole /64 and could otherwise take a fresh
// bucket for each of its 2^64 addresses. Text that is not an IP address is
// returned as it is.
func AddrKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64) // never fails for IPv6 without a zone
	return p.String()
}
