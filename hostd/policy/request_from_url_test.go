package policy

import (
	"strings"
	"testing"
)

func TestRequestFromURL(t *testing.T) {
	r, err := RequestFromURL("GET", "https://API.GitHub.com/repos/o/r?per_page=1")
	if err != nil {
		t.Fatal(err)
	}
	want := Request{Scheme: "https", Method: "GET", Host: "API.GitHub.com", Port: 443, HostHeader: "API.GitHub.com", Target: "/repos/o/r?per_page=1"}
	if r.Scheme != want.Scheme || r.Method != want.Method || r.Host != want.Host || r.Port != want.Port || r.HostHeader != want.HostHeader || r.Target != want.Target {
		t.Fatalf("got %+v", r)
	}
	c := mustCompile(t, fixturePolicy)
	if d := c.Decide(r, Pins{}); !d.Allow {
		t.Fatalf("decision %+v", d)
	}
	cases := []struct {
		method, url string
		allow       bool
		step        int
	}{
		{"GET", "http://plain.example.org", true, 0},
		{"GET", "http://plain.example.org:8080/", false, StepSchemePort},
		{"GET", "wss://x.example.com/socket", true, 0},
		{"GET", "https://10.0.0.1/", false, StepTargetHost},
		{"GET", "https://[::1]/", false, StepTargetHost},
		{"POST", "https://api.github.com/repos/o/r", false, StepMethod},
		{"GET", "https://api.github.com/a%2f..%2fuser", false, StepPathGuard},
	}
	for _, tc := range cases {
		r, err := RequestFromURL(tc.method, tc.url)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if d := c.Decide(r, Pins{}); d.Allow != tc.allow || d.Step != tc.step {
			t.Errorf("%s %s: %+v", tc.method, tc.url, d)
		}
	}
	for _, bad := range []struct{ method, url, err string }{
		{"GET", "ftp://example.com/", "scheme"},
		{"GET", "example.com/x", "scheme"},
		{"GET", "https:///x", "no host"},
		{"GET", "https://u:p@example.com/", "credentials"},
		{"GET", "https://example.com:99999/", "port"},
		{"", "https://example.com/", "method"},
		{"GET", "https://exa mple.com/", "parse URL"},
		{"GET", "https://example.com:0443/", "leading zeros"},
		{"GET", "https://example.com//x", `start with "//"`},
	} {
		if _, err := RequestFromURL(bad.method, bad.url); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("RequestFromURL(%q, %q) error %v, want %q", bad.method, bad.url, err, bad.err)
		}
	}
}
