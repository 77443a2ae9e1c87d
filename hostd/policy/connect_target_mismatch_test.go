package policy

import (
	"strings"
	"testing"
)

// An agent allowed to reach one host must not reach another by sending a
// Host header (or absolute URI) that disagrees with the CONNECT target.
func TestHostHeaderMustMatchTarget(t *testing.T) {
	c := mustCompile(t, fixturePolicy)
	cases := []struct {
		name       string
		host       string
		port       int
		hostHeader string
		target     string
		allow      bool
		reason     string
	}{
		{"same", "x.example.com", 443, "x.example.com", "/", true, ""},
		{"same with port", "x.example.com", 443, "x.example.com:443", "/", true, ""},
		{"case and trailing dot differ only", "x.example.com", 443, "X.Example.COM.", "/", true, ""},
		{"other allowed host", "x.example.com", 443, "evil.test", "/", false, "does not match the target host"},
		{"allowed header, forbidden target", "evil.test", 443, "x.example.com", "/", false, "does not match the target host"},
		{"port differs", "x.example.com", 443, "x.example.com:8443", "/", false, "port 8443 does not match"},
		{"empty port", "x.example.com", 443, "x.example.com:", "/", false, "malformed port"},
		{"signed port", "x.example.com", 443, "x.example.com:+443", "/", false, "malformed port"},
		{"two ports", "x.example.com", 443, "x.example.com:443:443", "/", false, "malformed port"},
		{"missing Host", "x.example.com", 443, "", "/", false, "missing Host"},
		{"IP literal header", "x.example.com", 443, "[::1]:443", "/", false, "IP literal"},
		{"userinfo trick", "x.example.com", 443, "x.example.com@evil.test", "/", false, "does not match"},
		{"absolute-form target", "x.example.com", 443, "x.example.com", "https://evil.test/", false, "origin-form"},
		{"asterisk target", "x.example.com", 443, "x.example.com", "*", false, "origin-form"},
		{"empty target", "x.example.com", 443, "x.example.com", "", false, "origin-form"},
		{"fragment", "x.example.com", 443, "x.example.com", "/a#b", false, "fragment"},
		{"space", "x.example.com", 443, "x.example.com", "/a b", false, "space"},
		{"CR LF", "x.example.com", 443, "x.example.com", "/a\r\nHost: evil.test", false, "control character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Request{Scheme: "https", Method: "GET", Host: tc.host, Port: tc.port, HostHeader: tc.hostHeader, Target: tc.target}
			d := c.Decide(r, Pins{})
			if d.Allow != tc.allow {
				t.Fatalf("allow = %v, want %v (%+v)", d.Allow, tc.allow, d)
			}
			if !tc.allow && !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("reason %q, want %q", d.Reason, tc.reason)
			}
			if !tc.allow && d.Step != StepConsistency {
				t.Fatalf("step %d, want %d", d.Step, StepConsistency)
			}
		})
	}
}
