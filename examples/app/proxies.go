package main

import (
	"fmt"
	"net/netip"
	"strings"
)

// prefixes is the -trusted-proxy flag: repeatable, each a comma-separated
// list of addresses ("10.0.0.1", a /32 or /128) and prefixes ("10.0.0.0/8").
type prefixes []netip.Prefix

func (p *prefixes) String() string {
	var list []string
	for _, x := range *p {
		list = append(list, x.String())
	}
	return strings.Join(list, ",")
}

func (p *prefixes) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		x, err := parsePrefix(s)
		if err != nil {
			return err
		}
		*p = append(*p, x)
	}
	return nil
}

// parsePrefix reads an address or a prefix; an IPv4 address written in
// IPv6 form is read as IPv4, as the connections' addresses are.
func parsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	x, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an IP address nor a CIDR prefix such as 10.0.0.0/8", s)
	}
	return x.Masked(), nil
}
