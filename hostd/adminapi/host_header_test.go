package adminapi

import (
	"net/http"
	"strings"
	"testing"
)

// DNS rebinding: a page on evil.example whose name is made to resolve to
// 127.0.0.1 reaches the API with Host: evil.example:7443. Such requests
// must be refused before anything else happens — even with the right
// password, and also for the UI.
func TestDNSRebindingHostIsRefused(t *testing.T) {
	h := newHarness(t)
	for _, host := range []string{
		"evil.example:7443", "evil.example", "127.0.0.1.evil.example:7443", "localhost.evil.example",
		"127.0.0.2:7443", "0.0.0.0:7443", "[::2]:7443", "[::ffff:127.0.0.1]:7443", "localhost.:7443",
		"10.0.0.1:7443", "127.1:7443", "2130706433:7443",
	} {
		for _, path := range []string{"/v1/health", "/", "/v1/nope"} {
			r := h.do("GET", path, "", withHost(host))
			if r.status != http.StatusForbidden {
				t.Errorf("Host %q %s: status %d, want 403", host, path, r.status)
				continue
			}
			if msg := r.errMsg(t); !strings.Contains(msg, "Host") {
				t.Errorf("Host %q: message %q does not say why", host, msg)
			}
		}
	}
	// A mutating request with a bad Host never reaches the service.
	r := h.do("POST", "/v1/tasks", `{"agent_runtime":"codex","thread_id":"t","input_message":"x"}`, withHost("evil.example"))
	mustStatus(t, r, http.StatusForbidden)
	if n := h.tasks.called("Create"); n != 0 {
		t.Fatalf("Create ran %d times behind a refused Host", n)
	}
}

func TestLoopbackHostsAreAccepted(t *testing.T) {
	h := newHarness(t)
	for _, host := range []string{"127.0.0.1:7443", "localhost:7443", "LocalHost:1", "[::1]:7443", "127.0.0.1", "localhost", "[::1]", "localhost:65535"} {
		r := h.do("GET", "/v1/health", "", withHost(host))
		if r.status != http.StatusOK {
			t.Errorf("Host %q: status %d, want 200: %s", host, r.status, r.body)
		}
	}
}

func TestLoopbackHostTable(t *testing.T) {
	cases := map[string]bool{
		"127.0.0.1:7443": true, "localhost:7443": true, "LOCALHOST:80": true, "[::1]:7443": true,
		"127.0.0.1": true, "localhost": true, "[::1]": true,
		"": false, ":7443": false, "127.0.0.1:": false, "127.0.0.1:0": false, "127.0.0.1:65536": false,
		"127.0.0.1:+80": false, "127.0.0.1:8x": false, "127.0.0.1:080808": false, "[::1]:": false,
		"[::1]x": false, "[::1": false, "::1": false, "[::1]:7443:1": false, "localhost:7443:1": false,
		"localhost.": false, "evil.com": false, "127.0.0.1.nip.io": false, "[0:0:0:0:0:0:0:1]:7443": false,
		"127.0.0.1 :7443": false, " localhost": false,
	}
	for in, want := range cases {
		if got := loopbackHost(in); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestNoCORSHeadersEver(t *testing.T) {
	h := newHarness(t)
	origin := withHeader("Origin", "http://evil.example")
	for _, r := range []resp{
		h.do("GET", "/v1/health", "", origin),
		h.do("OPTIONS", "/v1/tasks", "", origin, withHeader("Access-Control-Request-Method", "POST")),
		h.do("GET", "/v1/health", "", origin, withoutAuth()),
		h.do("GET", "/v1/health", "", origin, withHost("evil.example")),
	} {
		for k := range r.header {
			if strings.HasPrefix(strings.ToLower(k), "access-control-") {
				t.Fatalf("response carries CORS header %s", k)
			}
		}
	}
	// A preflight is just a method this route does not allow.
	r := h.do("OPTIONS", "/v1/tasks", "")
	mustStatus(t, r, http.StatusMethodNotAllowed)
}
