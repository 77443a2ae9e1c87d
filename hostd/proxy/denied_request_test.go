package proxy

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

// Denied names are never resolved and nothing is dialled: the decision
// comes before any DNS lookup or connection.
func assertNoEgress(t *testing.T, e *env) {
	t.Helper()
	if l := e.resolver.looked(); len(l) != 0 {
		t.Fatalf("denied request caused DNS lookups: %v", l)
	}
	if d := e.dialer.addrs(); len(d) != 0 {
		t.Fatalf("denied request dialled: %v", d)
	}
}

func TestDeniedByHostIsNeverResolved(t *testing.T) {
	e := startProxy(t, policyJSON(apiPolicy))
	e.resolver.answers["evil.example.test"] = []string{"93.184.216.34"}

	c, status := e.dialTunnel("evil.example.test:443")
	if c != nil || !strings.HasPrefix(status, "HTTP/1.1 403") {
		t.Fatalf("CONNECT to a host without rule: %q", status)
	}
	ev := e.events.denial(t, "evil.example.test")
	if ev.Method != "CONNECT" || ev.Protocol != "https" || !strings.Contains(ev.Reason, "no rule") {
		t.Fatalf("event %+v", ev)
	}
	status2, body := e.get("http://evil.example.test/x")
	if status2 != 403 || !strings.Contains(body, "no rule") || !strings.Contains(body, "To allow it") {
		t.Fatalf("plain http to a host without rule: %d %q", status2, body)
	}
	assertNoEgress(t, e)
}

func TestDeniedByMethodAndPathGuard(t *testing.T) {
	var hits counter
	e := startProxy(t, policyJSON(apiPolicy))
	up := tlsUpstream(t, e.uca, hits.wrap(echoHandler()))
	e.p.cfg.DevUpstreams = map[string]string{"api.example.test": up.Listener.Addr().String()}

	req, _ := http.NewRequest("PUT", "https://api.example.test/v1/x", strings.NewReader("data"))
	if s, b := e.do(req); s != 403 || !strings.Contains(b, "allow_http_methods") {
		t.Fatalf("PUT: %d %q", s, b)
	}
	if s, _ := e.get("https://api.example.test/other"); s != 403 {
		t.Fatalf("path outside the guard: %d", s)
	}
	if s, _ := e.get("https://api.example.test/v1/../admin"); s != 403 {
		t.Fatalf("dot segment: %d", s)
	}
	if hits.n.Load() != 0 {
		t.Fatalf("denied requests reached the upstream %d times", hits.n.Load())
	}
	e.events.waitFor(t, "method denial", func(ev netstate.Event) bool {
		return ev.Decision == decisionDenied && ev.Method == "PUT" && ev.Path == "/v1/x"
	})
}

func TestDeniedByPort(t *testing.T) {
	e := startProxy(t, policyJSON(apiPolicy))
	c, status := e.dialTunnel("api.example.test:8443")
	if c != nil || !strings.HasPrefix(status, "HTTP/1.1 403") {
		t.Fatalf("CONNECT to port 8443: %q", status)
	}
	ev := e.events.waitFor(t, "port denial", func(ev netstate.Event) bool { return ev.Port == 8443 })
	if ev.Decision != decisionDenied || ev.Method != "CONNECT" {
		t.Fatalf("event %+v", ev)
	}
	if s, _ := e.get("http://api.example.test:8080/v1/x"); s != 403 {
		t.Fatalf("plain http to port 8080: %d", s)
	}
	assertNoEgress(t, e)
}

func TestIPLiteralTargetsAreDenied(t *testing.T) {
	e := startProxy(t, policyJSON(apiPolicy))
	for _, target := range []string{"93.184.216.34:443", "[2606:2800:220:1::]:443", "127.0.0.1:443"} {
		c, status := e.dialTunnel(target)
		if c != nil || !strings.HasPrefix(status, "HTTP/1.1 403") {
			t.Fatalf("CONNECT %s: %q", target, status)
		}
	}
	if s, b := e.get("http://169.254.169.254/latest/meta-data/"); s != 403 || !strings.Contains(b, "IP-literal") {
		t.Fatalf("metadata IP literal: %d %q", s, b)
	}
	if len(e.events.all()) != 4 {
		t.Fatalf("want 4 denial events, got %+v", e.events.all())
	}
	assertNoEgress(t, e)
}

func TestCorruptPolicyDeniesEverything(t *testing.T) {
	var hits counter
	e := startProxy(t, policyJSON(apiPolicy))
	up := tlsUpstream(t, e.uca, hits.wrap(echoHandler()))
	e.p.cfg.DevUpstreams = map[string]string{"api.example.test": up.Listener.Addr().String()}
	if s, _ := e.get("https://api.example.test/v1/ok"); s != 200 {
		t.Fatalf("before corruption: %d", s)
	}
	e.policy.setErr(errCorruptForTest)
	c, status := e.dialTunnel("api.example.test:443")
	if c != nil || !strings.HasPrefix(status, "HTTP/1.1 403") {
		t.Fatalf("CONNECT with corrupt policy: %q", status)
	}
	ev := e.events.waitFor(t, "policy denial", func(ev netstate.Event) bool {
		return ev.Decision == decisionDenied && strings.Contains(ev.Reason, "unreadable or invalid")
	})
	if !strings.Contains(ev.Reason, "unexpected end of JSON") {
		t.Fatalf("reason does not carry the load error: %q", ev.Reason)
	}
	if s, _ := e.get("http://api.example.test/v1/ok"); s != 403 {
		t.Fatalf("plain http with corrupt policy: %d", s)
	}
	if hits.n.Load() != 1 {
		t.Fatalf("upstream reached with a corrupt policy")
	}
}

var errCorruptForTest = errors.New("read policy: unexpected end of JSON input")

func TestOriginFormRequestToTheProxyIsRefused(t *testing.T) {
	e := startProxy(t, policyJSON(apiPolicy))
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp := rawExchange(t, c, "GET /v1/x HTTP/1.1\r\nHost: api.example.test\r\n\r\n")
	if resp.StatusCode != 400 {
		t.Fatalf("origin-form to the proxy: %d", resp.StatusCode)
	}
	e.events.waitFor(t, "denial", func(ev netstate.Event) bool { return ev.Decision == decisionDenied })
}
