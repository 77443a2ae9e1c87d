package proxy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestIsPublicAddrTable(t *testing.T) {
	cases := map[string]bool{
		"93.184.216.34":          true,
		"8.8.8.8":                true,
		"2606:4700::6810:84e5":   true,
		"64:ff9b::5db8:d822":     true, // NAT64 of 93.184.216.34
		"::ffff:93.184.216.34":   true,
		"127.0.0.1":              false,
		"127.255.0.9":            false,
		"10.1.2.3":               false,
		"172.16.0.1":             false,
		"172.31.255.255":         false,
		"192.168.1.1":            false,
		"169.254.169.254":        false, // instance metadata
		"169.254.0.1":            false,
		"100.64.0.1":             false, // CGNAT
		"100.127.255.255":        false,
		"0.0.0.0":                false,
		"0.1.2.3":                false,
		"224.0.0.1":              false,
		"239.255.255.250":        false,
		"240.0.0.1":              false,
		"255.255.255.255":        false,
		"192.0.2.1":              false,
		"198.51.100.1":           false,
		"203.0.113.1":            false,
		"198.18.0.1":             false, // benchmarking
		"198.19.255.255":         false,
		"192.0.0.8":              false,
		"::1":                    false,
		"::":                     false,
		"fc00::1":                false, // ULA
		"fd12:3456::1":           false,
		"fe80::1":                false,
		"ff02::1":                false,
		"2001:db8::1":            false,
		"3fff::1":                false,
		"2001::1":                false, // Teredo
		"::ffff:127.0.0.1":       false, // IPv4-mapped loopback
		"::ffff:169.254.169.254": false,
		"::ffff:10.0.0.1":        false,
		"64:ff9b::a9fe:a9fe":     false, // NAT64 of 169.254.169.254
		"64:ff9b::7f00:1":        false, // NAT64 of 127.0.0.1
		"64:ff9b:1::1":           false, // local-use NAT64
		"2002:7f00:1::":          false, // 6to4 of 127.0.0.1
		"2002:5db8:d822::1":      true,  // 6to4 of a public address
		"::127.0.0.1":            false, // IPv4-compatible (deprecated)
		"fe80::1%eth0":           false,
	}
	for s, want := range cases {
		a, err := netip.ParseAddr(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := isPublicAddr(a); got != want {
			t.Errorf("isPublicAddr(%s) = %v, want %v", s, got, want)
		}
	}
	if isPublicAddr(netip.Addr{}) {
		t.Error("the zero address is public")
	}
}

// A name that resolves to any non-public address is refused after the
// allow and before any connection; the vetted address is never dialled.
func TestPrivateAddressAnswersAreRefused(t *testing.T) {
	answers := map[string][]string{
		"loopback":  {"127.0.0.1"},
		"rfc1918":   {"10.0.0.7"},
		"metadata":  {"169.254.169.254"},
		"cgnat":     {"100.100.100.200"},
		"ula":       {"fd00::1"},
		"mapped":    {"::ffff:127.0.0.1"},
		"nat64":     {"64:ff9b::a9fe:a9fe"},
		"mixed":     {"93.184.216.34", "10.0.0.1"}, // ANY bad answer refuses
		"linklocal": {"fe80::1"},
	}
	e := startProxy(t, policyJSON(`"*.rebind.example.test": {"allow_http_methods": ["GET"]}`))
	for name, ips := range answers {
		e.resolver.answers[name+".rebind.example.test"] = ips
	}
	for name := range answers {
		host := name + ".rebind.example.test"
		status, body := e.get("https://" + host + "/")
		if status != 403 || !strings.Contains(body, "not a public address") {
			t.Errorf("%s: %d %q", name, status, body)
		}
		ev := e.events.denial(t, host)
		if !strings.Contains(ev.Reason, "not a public address") {
			t.Errorf("%s: reason %q", name, ev.Reason)
		}
		// Plain http too.
		if status, _ := e.get("http://" + host + "/"); status != 403 {
			t.Errorf("%s over http: %d", name, status)
		}
	}
	if d := e.dialer.addrs(); len(d) != 0 {
		t.Fatalf("refused addresses were dialled: %v", d)
	}
	if len(e.resolver.looked()) == 0 {
		t.Fatal("allowed names were not resolved at all")
	}
}

// An allowed name with public answers is dialled by vetted address, never
// by name (no second lookup a rebinding server could change).
func TestVettedAddressIsDialledNotTheName(t *testing.T) {
	e := startProxy(t, policyJSON(`"public.example.test": {"allow_http_methods": ["GET"]}`))
	e.resolver.answers["public.example.test"] = []string{"93.184.216.34"}
	status, _ := e.get("http://public.example.test/")
	if status != 502 {
		t.Fatalf("status %d, want 502 from the refusing test dialer", status)
	}
	d := e.dialer.addrs()
	if len(d) == 0 || d[0] != "93.184.216.34:80" {
		t.Fatalf("dialled %v, want the vetted address", d)
	}
	if n := len(e.resolver.looked()); n < 1 {
		t.Fatalf("lookups: %d", n)
	}
}
