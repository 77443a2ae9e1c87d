package policy

import (
	"strings"
	"testing"
)

func TestWildcardMatching(t *testing.T) {
	c := mustCompile(t, `{"allowed_network_access":{
		"*.example.com": {"allow_http_methods": ["GET"]},
		"example.com": {"allow_http_methods": ["POST"]},
		"a.example.com": {"allow_http_methods": ["PUT"]},
		"*.svc.internal.example.org": {"allow_http_methods": ["DELETE"]}
	}}`)
	cases := []struct{ host, rule string }{
		{"example.com", "example.com"},
		{"a.example.com", "a.example.com"},
		{"b.example.com", "*.example.com"},
		{"x.a.example.com", "*.example.com"},
		{"a.b.c.d.example.com", "*.example.com"},
		{"EXAMPLE.com", "example.com"},
		{"notexample.com", ""},
		{"example.com.evil.test", ""},
		{"x.svc.internal.example.org", "*.svc.internal.example.org"},
		{"svc.internal.example.org", ""},
		{"internal.example.org", ""},
	}
	for _, tc := range cases {
		n, err := NormalizeHost(tc.host)
		if err != nil {
			t.Fatalf("%s: %v", tc.host, err)
		}
		got := ""
		if r := c.lookup(n); r != nil {
			got = r.name
		}
		if got != tc.rule {
			t.Errorf("lookup(%q) = %q, want %q", tc.host, got, tc.rule)
		}
	}
}

// An agent visiting endless subdomains must get the same answer each time
// and cost the matcher nothing that grows.
func TestWildcardSubdomainFloodMatchesConsistently(t *testing.T) {
	c := mustCompile(t, fixturePolicy)
	for i := 0; i < 2000; i++ {
		h := strings.Repeat("a", i%60+1) + "." + itoa(i) + "x.example.com"
		if d := c.Decide(req("GET", h, "/"), Pins{}); !d.Allow || d.Rule != "*.example.com" {
			t.Fatalf("%s: %+v", h, d)
		}
	}
}
