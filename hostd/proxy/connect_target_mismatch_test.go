package proxy

import (
	"crypto/tls"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
)

const twoHostsPolicy = `"api.example.test": {"allow_http_methods": ["GET"]}, "other.example.test": {"allow_http_methods": ["GET"]}`

func mismatchEnv(t *testing.T) (*env, *counter) {
	var hits counter
	e := startProxy(t, policyJSON(twoHostsPolicy))
	up := tlsUpstream(t, e.uca, hits.wrap(echoHandler()))
	e.p.cfg.DevUpstreams = map[string]string{
		"api.example.test":   up.Listener.Addr().String(),
		"other.example.test": up.Listener.Addr().String(),
	}
	return e, &hits
}

func TestSNIDifferentFromConnectTargetIsRefused(t *testing.T) {
	e, hits := mismatchEnv(t)
	c, status := e.dialTunnel("api.example.test:443")
	if c == nil {
		t.Fatalf("CONNECT refused: %q", status)
	}
	tc := tls.Client(c, &tls.Config{ServerName: "other.example.test", InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	resp := rawExchange(t, tc, "GET / HTTP/1.1\r\nHost: other.example.test\r\n\r\n")
	if resp.StatusCode != 400 {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
	ev := e.events.denial(t, "api.example.test")
	if !strings.Contains(ev.Reason, "SNI") {
		t.Fatalf("reason %q", ev.Reason)
	}
	if hits.n.Load() != 0 {
		t.Fatal("mismatched request reached the upstream")
	}
}

func TestInnerHostDifferentFromConnectTargetIsRefused(t *testing.T) {
	e, hits := mismatchEnv(t)
	for _, host := range []string{"other.example.test", "api.example.test:8443", "127.0.0.1", "api.example.test.evil.test"} {
		tc := e.tlsTunnel("api.example.test:443", "api.example.test")
		resp := rawExchange(t, tc, "GET / HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
		if resp.StatusCode != 400 {
			t.Fatalf("Host %q: status %d, want 400", host, resp.StatusCode)
		}
	}
	if hits.n.Load() != 0 {
		t.Fatal("mismatched request reached the upstream")
	}
	if n := len(e.events.all()); n != 4 {
		t.Fatalf("want 4 denial events, got %d", n)
	}
}

func TestAbsoluteURIInsideTunnelNamingAnotherHostIsRefused(t *testing.T) {
	e, hits := mismatchEnv(t)
	tc := e.tlsTunnel("api.example.test:443", "api.example.test")
	resp := rawExchange(t, tc, "GET https://other.example.test/ HTTP/1.1\r\nHost: api.example.test\r\n\r\n")
	if resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	tc2 := e.tlsTunnel("api.example.test:443", "api.example.test")
	resp = rawExchange(t, tc2, "GET https://api.example.test/ok HTTP/1.1\r\nHost: api.example.test\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("absolute-form for the tunnel's own origin: %d", resp.StatusCode)
	}
	if hits.n.Load() != 1 {
		t.Fatalf("upstream saw %d requests, want only the consistent one", hits.n.Load())
	}
}

func TestPlainHTTPHostHeaderDifferentFromURIIsRefused(t *testing.T) {
	var hits counter
	e := startProxy(t, policyJSON(twoHostsPolicy))
	up := httptest.NewServer(hits.wrap(echoHandler()))
	t.Cleanup(up.Close)
	e.p.cfg.DevUpstreams = map[string]string{"api.example.test": up.Listener.Addr().String(), "other.example.test": up.Listener.Addr().String()}
	for _, host := range []string{"other.example.test", "api.example.test:81", "evil.test"} {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		resp := rawExchange(t, c, "GET http://api.example.test/ HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
		c.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("Host %q: %d", host, resp.StatusCode)
		}
	}
	if hits.n.Load() != 0 {
		t.Fatal("confused request reached the upstream")
	}
}

func TestCONNECTInsideTunnelIsRefused(t *testing.T) {
	e, hits := mismatchEnv(t)
	tc := e.tlsTunnel("api.example.test:443", "api.example.test")
	resp := rawExchange(t, tc, "CONNECT other.example.test:443 HTTP/1.1\r\nHost: other.example.test:443\r\n\r\n")
	if resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if hits.n.Load() != 0 {
		t.Fatal("reached upstream")
	}
}

// Credentials in an absolute-form URL are refused, and the answer says so
// rather than calling the URL not absolute.
func TestAbsoluteURLWithCredentialsIsRefusedByName(t *testing.T) {
	var hits counter
	e := startProxy(t, policyJSON(twoHostsPolicy))
	up := httptest.NewServer(hits.wrap(echoHandler()))
	t.Cleanup(up.Close)
	e.p.cfg.DevUpstreams = map[string]string{"api.example.test": up.Listener.Addr().String()}
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp := rawExchange(t, c, "GET http://user:pw@api.example.test/ HTTP/1.1\r\nHost: api.example.test\r\n\r\n")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "credentials") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if hits.n.Load() != 0 {
		t.Fatal("the request reached the upstream")
	}
}

// A CONNECT whose Host header names another origin is refused before the
// tunnel opens; the usual shapes (with or without the port, any case)
// pass.
func TestCONNECTHostHeaderMustNameTheTarget(t *testing.T) {
	e := startProxy(t, policyJSON(twoHostsPolicy))
	for hostHeader, want := range map[string]int{
		"api.example.test:443": 200, "API.Example.Test": 200, "api.example.test.:443": 200,
		"other.example.test:443": 400, "evil.invalid:443": 400, "api.example.test:8443": 400, "api.example.test:0443": 400,
	} {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		resp := rawExchange(t, c, "CONNECT api.example.test:443 HTTP/1.1\r\nHost: "+hostHeader+"\r\n\r\n")
		c.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", hostHeader, resp.StatusCode, want)
		}
	}
}
