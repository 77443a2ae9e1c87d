package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

const apiPolicy = `"api.example.test": {"allow_http_methods": ["GET", "POST"], "path_guards": ["^/v1/.*$"]}`

func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Upstream-Host", r.Host)
		fmt.Fprintf(w, "%s %s len=%d body=%s", r.Method, r.URL.RequestURI(), r.ContentLength, b)
	})
}

func TestAllowedHTTPSRequestReachesUpstreamAndIsLogged(t *testing.T) {
	var hits counter
	e := startProxy(t, policyJSON(apiPolicy))
	up := tlsUpstream(t, e.uca, hits.wrap(echoHandler()))
	e.p.cfg.DevUpstreams = map[string]string{"api.example.test": up.Listener.Addr().String()}

	status, body := e.get("https://api.example.test/v1/models?limit=2")
	if status != 200 || body != "GET /v1/models?limit=2 len=0 body=" {
		t.Fatalf("got %d %q", status, body)
	}
	ev := e.events.waitFor(t, "allowed", func(ev netstate.Event) bool { return ev.Decision == decisionAllowed })
	if ev.Timestamp.IsZero() {
		t.Fatal("event carries no decision time")
	}
	want := netstate.Event{Seq: ev.Seq, Timestamp: ev.Timestamp, Protocol: "https", Method: "GET", Host: "api.example.test", Port: 443, Path: "/v1/models", Query: "limit=2", Decision: "allowed"}
	if ev != want {
		t.Fatalf("event = %+v, want %+v", ev, want)
	}
	if len(e.resolver.looked()) != 0 {
		t.Fatalf("dev upstream was resolved: %v", e.resolver.looked())
	}
	if hits.n.Load() != 1 {
		t.Fatalf("upstream saw %d requests", hits.n.Load())
	}
}

func TestAllowedPlainHTTPRequestIsForwarded(t *testing.T) {
	var hits counter
	e := startProxy(t, policyJSON(`"plain.example.test": {"allow_http_methods": ["POST"]}`))
	up := httptest.NewServer(hits.wrap(echoHandler()))
	t.Cleanup(up.Close)
	e.p.cfg.DevUpstreams = map[string]string{"plain.example.test": up.Listener.Addr().String()}

	req, _ := http.NewRequest("POST", "http://plain.example.test/submit", strings.NewReader("hello"))
	status, body := e.do(req)
	if status != 200 || body != "POST /submit len=5 body=hello" {
		t.Fatalf("got %d %q", status, body)
	}
	e.events.waitFor(t, "allowed http", func(ev netstate.Event) bool {
		return ev.Protocol == "http" && ev.Decision == decisionAllowed && ev.Method == "POST" && ev.Port == 80
	})
}

func TestEachRequestOnAKeptAliveTunnelIsDecidedOnItsOwn(t *testing.T) {
	var hits counter
	e := startProxy(t, policyJSON(apiPolicy))
	up := tlsUpstream(t, e.uca, hits.wrap(echoHandler()))
	e.p.cfg.DevUpstreams = map[string]string{"api.example.test": up.Listener.Addr().String()}

	tc := e.tlsTunnel("api.example.test:443", "api.example.test")
	br := bufio.NewReader(tc)
	send := func(method, target string) (int, string) {
		fmt.Fprintf(tc, "%s %s HTTP/1.1\r\nHost: api.example.test\r\nContent-Length: 0\r\n\r\n", method, target)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if s, _ := send("GET", "/v1/a"); s != 200 {
		t.Fatalf("first request: %d", s)
	}
	if s, b := send("GET", "/admin"); s != 403 || !strings.Contains(b, "path guard") {
		t.Fatalf("second request on the same connection: %d %q", s, b)
	}
	if s, _ := send("DELETE", "/v1/a"); s != 403 {
		t.Fatalf("third request: %d", s)
	}
	if s, _ := send("POST", "/v1/b"); s != 200 {
		t.Fatalf("fourth request: %d", s)
	}
	if n := hits.n.Load(); n != 2 {
		t.Fatalf("upstream saw %d requests, want 2", n)
	}
}
