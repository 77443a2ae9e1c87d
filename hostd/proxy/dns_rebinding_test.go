package proxy

import (
	"strings"
	"testing"
)

// A rebinding DNS server answers a public address first and a private one
// later. Every new upstream connection re-resolves and re-checks, and the
// address dialled is always the one that was checked.
func TestDNSRebindingToAPrivateAddressIsRefusedAtDialTime(t *testing.T) {
	e := startProxy(t, policyJSON(`"rebind.example.test": {"allow_http_methods": ["GET"]}`))
	e.resolver.answers["rebind.example.test"] = []string{"93.184.216.34"}
	if status, _ := e.get("http://rebind.example.test/"); status != 502 {
		t.Fatalf("first request: %d (the test dialer refuses public addresses)", status)
	}
	for _, a := range e.dialer.addrs() {
		if a != "93.184.216.34:80" {
			t.Fatalf("dialled %s, not the vetted address", a)
		}
	}
	dialsBefore := len(e.dialer.addrs())
	e.resolver.answers["rebind.example.test"] = []string{"127.0.0.1"}
	status, body := e.get("http://rebind.example.test/")
	if status != 403 || !strings.Contains(body, "127.0.0.1, which is not a public address") {
		t.Fatalf("after rebinding: %d %q", status, body)
	}
	if len(e.dialer.addrs()) != dialsBefore {
		t.Fatalf("the rebound private address was dialled: %v", e.dialer.addrs())
	}
}
