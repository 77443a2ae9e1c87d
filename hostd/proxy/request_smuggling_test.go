package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// smugglingCases are request heads (after the request line) that an
// intermediary and an upstream could frame differently.
var smugglingCases = map[string]string{
	"CL and TE":             "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
	"TE and CL":             "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
	"duplicate CL equal":    "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"duplicate CL differ":   "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"CL list":               "Content-Length: 5, 5\r\n\r\nhello",
	"CL signed":             "Content-Length: +5\r\n\r\nhello",
	"TE gzip":               "Transfer-Encoding: gzip\r\n\r\nxxxx",
	"TE gzip chunked":       "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
	"TE chunked chunked":    "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
	"TE duplicate":          "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"TE identity":           "Transfer-Encoding: identity\r\n\r\n",
	"TE with space in name": "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	"obs-fold":              "X-Note: a\r\n  folded\r\nContent-Length: 0\r\n\r\n",
	"obs-fold TE":           "X-Note: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"bare CR":               "X-Note: a\rb\r\n\r\n",
	"NUL in value":          "X-Note: a\x00b\r\n\r\n",
	"bad chunk size":        "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
	"chunk size overflow":   "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
	"chunk size 0x":         "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
	"chunk size negative":   "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
	"chunk size space":      "Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
	"chunk LF only":         "Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
	"chunk data overrun":    "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
}

// For guarded (buffered) bodies every case must be refused before a byte
// goes upstream; this test uses a plain unguarded POST host, where the
// head cases are refused before forwarding and the chunk cases abort the
// forwarded body before it completes — the upstream never sees a whole
// request either way.
func TestRequestSmugglingNeverReachesUpstream(t *testing.T) {
	var complete counter
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err == nil {
			complete.n.Add(1)
		}
	}))
	t.Cleanup(up.Close)
	e := startProxy(t, policyJSON(`"smuggle.example.test": {"allow_http_methods": ["GET", "POST"]}`))
	e.p.cfg.DevUpstreams = map[string]string{"smuggle.example.test": up.Listener.Addr().String()}
	tlsUp := tlsUpstream(t, e.uca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err == nil {
			complete.n.Add(1)
		}
	}))

	for name, rest := range smugglingCases {
		t.Run("http/"+name, func(t *testing.T) {
			c, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			resp := rawExchange(t, c, "POST http://smuggle.example.test/ HTTP/1.1\r\nHost: smuggle.example.test\r\n"+rest)
			if resp.StatusCode != 400 {
				t.Fatalf("status %d, want 400", resp.StatusCode)
			}
		})
	}
	e.p.cfg.DevUpstreams["smuggle.example.test"] = tlsUp.Listener.Addr().String()
	for name, rest := range smugglingCases {
		t.Run("https/"+name, func(t *testing.T) {
			tc := e.tlsTunnel("smuggle.example.test:443", "smuggle.example.test")
			resp := rawExchange(t, tc, "POST / HTTP/1.1\r\nHost: smuggle.example.test\r\n"+rest)
			if resp.StatusCode != 400 {
				t.Fatalf("status %d, want 400", resp.StatusCode)
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // let aborted upstream handlers finish
	if n := complete.n.Load(); n != 0 {
		t.Fatalf("upstream received %d complete smuggling requests", n)
	}
	denials := 0
	for _, ev := range e.events.all() {
		if ev.Decision == decisionDenied {
			denials++
		}
	}
	if denials != 2*len(smugglingCases) {
		t.Fatalf("want %d denial events, got %d", 2*len(smugglingCases), denials)
	}
	for _, ev := range e.events.all() {
		if !strings.Contains(ev.Reason, "malformed") {
			t.Fatalf("reason %q", ev.Reason)
		}
		if ev.Protocol == "https" && (ev.Host != "smuggle.example.test" || ev.Port != 443) {
			t.Fatalf("tunnel denial without its host: %+v", ev)
		}
	}
}
