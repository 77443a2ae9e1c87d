package proxy

import (
	"net/netip"
)

// nonPublicV4 lists IPv4 ranges that are never a legitimate upstream:
// special-purpose (RFC 6890 and successors), private, shared, loopback,
// link-local (incl. the instance metadata address), documentation,
// benchmarking, multicast, reserved and broadcast.
var nonPublicV4 = mustPrefixes(
	"0.0.0.0/8",       // "this network"
	"10.0.0.0/8",      // RFC 1918
	"100.64.0.0/10",   // CGNAT shared space
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local, incl. 169.254.169.254 metadata
	"172.16.0.0/12",   // RFC 1918
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // TEST-NET-1
	"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
	"192.168.0.0/16",  // RFC 1918
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // TEST-NET-2
	"203.0.113.0/24",  // TEST-NET-3
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, incl. 255.255.255.255 broadcast
)

// nonPublicV6 lists IPv6 ranges inside 2000::/3 that are still special.
// Everything outside 2000::/3 (loopback, unspecified, ULA fc00::/7,
// link-local fe80::/10, multicast ff00::/8, ...) is refused by default,
// except the NAT64 and 6to4 forms whose embedded IPv4 address is checked.
var nonPublicV6 = mustPrefixes(
	"2001::/23",     // IETF protocol assignments: Teredo, benchmarking 2001:2::/48, ORCHID
	"2001:db8::/32", // documentation
	"3fff::/20",     // documentation (RFC 9637)
)

var (
	globalUnicastV6 = netip.MustParsePrefix("2000::/3")
	nat64WellKnown  = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour       = netip.MustParsePrefix("2002::/16")
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// isPublicAddr reports whether ip is publicly routable, and so may be
// dialled on the agent's behalf. IPv4-mapped, NAT64 and 6to4 forms are
// judged by the IPv4 address they carry.
func isPublicAddr(ip netip.Addr) bool {
	ip = ip.WithZone("")
	if !ip.IsValid() {
		return false
	}
	if ip.Is4In6() {
		return isPublicV4(ip.Unmap())
	}
	if ip.Is4() {
		return isPublicV4(ip)
	}
	b := ip.As16()
	switch {
	case nat64WellKnown.Contains(ip):
		return isPublicV4(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	case sixToFour.Contains(ip):
		return isPublicV4(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	case !globalUnicastV6.Contains(ip):
		return false
	}
	for _, p := range nonPublicV6 {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

func isPublicV4(ip netip.Addr) bool {
	for _, p := range nonPublicV4 {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}
