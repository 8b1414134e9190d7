package scenario

import "net/netip"

// AllowedRanges are the only address ranges a scenario may use: the IPv4
// benchmarking range (RFC 2544), the three IPv4 documentation ranges
// (RFC 5737), the IPv6 benchmarking range (RFC 5180) and the IPv6
// documentation range (RFC 3849). None of them is routed on the Internet, so
// an emulated world can never be confused with, or leak into, the real one.
//
// Treat it as read-only.
var AllowedRanges = []netip.Prefix{
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:2::/48"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// DefaultBackbonePrefixes is the backbone's address space when a scenario
// gives none: TEST-NET-1 and the IPv6 benchmarking range.
//
// Treat it as read-only.
var DefaultBackbonePrefixes = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("2001:2::/48"),
}

// AllowedPrefix reports whether p is valid and lies entirely inside one of
// the AllowedRanges.
func AllowedPrefix(p netip.Prefix) bool {
	if !p.IsValid() {
		return false
	}
	for _, r := range AllowedRanges {
		if r.Addr().Is4() == p.Addr().Is4() && r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// AllowedAddr reports whether a lies inside one of the AllowedRanges.
func AllowedAddr(a netip.Addr) bool {
	for _, r := range AllowedRanges {
		if r.Contains(a) {
			return true
		}
	}
	return false
}
