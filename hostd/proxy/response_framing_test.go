package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func framingEnv(t *testing.T) (*env, *counter) {
	var hits counter
	e := startProxy(t, policyJSON(`"f.example.test": {"allow_http_methods": ["GET", "HEAD", "POST"]}`))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/head":
			w.Header().Set("Content-Length", "100")
			if r.Method != http.MethodHead {
				_, _ = w.Write(make([]byte, 100))
			}
		case "/stream":
			for i := range 3 {
				_, _ = io.WriteString(w, strings.Repeat("x", i+1))
				w.(http.Flusher).Flush()
			}
		default:
			b, _ := io.ReadAll(r.Body)
			_, _ = io.WriteString(w, r.URL.Path+":"+string(b))
		}
	})
	up := tlsUpstream(t, e.uca, hits.wrap(h))
	plain := httptest.NewServer(hits.wrap(h))
	t.Cleanup(plain.Close)
	e.p.cfg.DevUpstreams = map[string]string{"f.example.test": up.Listener.Addr().String()}
	return e, &hits
}

func TestPipelinedRequestsInATunnelAreAnsweredInOrder(t *testing.T) {
	e, hits := framingEnv(t)
	tc := e.tlsTunnel("f.example.test:443", "f.example.test")
	_, _ = io.WriteString(tc, "GET /a HTTP/1.1\r\nHost: f.example.test\r\n\r\n"+
		"POST /b HTTP/1.1\r\nHost: f.example.test\r\nContent-Length: 3\r\n\r\nxyz"+
		"GET /c HTTP/1.1\r\nHost: f.example.test\r\n\r\n")
	br := bufio.NewReader(tc)
	for _, want := range []string{"/a:", "/b:xyz", "/c:"} {
		_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Fatalf("got %q, want %q", b, want)
		}
	}
	if hits.n.Load() != 3 {
		t.Fatalf("upstream saw %d", hits.n.Load())
	}
}

func TestBodylessResponsesKeepTheConnectionUsable(t *testing.T) {
	e, _ := framingEnv(t)
	tc := e.tlsTunnel("f.example.test:443", "f.example.test")
	br := bufio.NewReader(tc)
	send := func(method, path string) *http.Response {
		_, _ = io.WriteString(tc, method+" "+path+" HTTP/1.1\r\nHost: f.example.test\r\n\r\n")
		_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := send("HEAD", "/head"); r.StatusCode != 200 || r.ContentLength != 100 {
		t.Fatalf("HEAD: %d cl=%d", r.StatusCode, r.ContentLength)
	}
	if r := send("GET", "/nocontent"); r.StatusCode != 204 {
		t.Fatalf("204: %d", r.StatusCode)
	}
	if r := send("GET", "/stream"); r.StatusCode != 200 || len(r.TransferEncoding) == 0 {
		t.Fatalf("streamed response not chunked to the client: %+v", r.TransferEncoding)
	}
	if r := send("GET", "/last"); r.StatusCode != 200 {
		t.Fatalf("after bodyless responses: %d", r.StatusCode)
	}
}

func TestExpectContinueIsAnsweredAfterTheDecision(t *testing.T) {
	e, hits := framingEnv(t)
	tc := e.tlsTunnel("f.example.test:443", "f.example.test")
	br := bufio.NewReader(tc)
	_, _ = io.WriteString(tc, "POST /up HTTP/1.1\r\nHost: f.example.test\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	_, _ = br.ReadString('\n')
	_, _ = io.WriteString(tc, "data")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "/up:data" {
		t.Fatalf("body %q", b)
	}

	// Denied: a final 403 instead of 100, the body is never read, and the
	// connection is closed (the client may or may not send the body).
	tc2 := e.tlsTunnel("f.example.test:443", "f.example.test")
	resp = rawExchange(t, tc2, "PUT /up HTTP/1.1\r\nHost: f.example.test\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	if resp.StatusCode != 403 || !resp.Close {
		t.Fatalf("denied expect-continue: %d close=%v", resp.StatusCode, resp.Close)
	}
	if hits.n.Load() != 1 {
		t.Fatalf("upstream saw %d", hits.n.Load())
	}
}

func TestHTTP10ClientGetsAClosedConnection(t *testing.T) {
	e, _ := framingEnv(t)
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET http://nope.example.test/ HTTP/1.0\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("connection not closed after an HTTP/1.0 exchange: %v", err)
	}
	if !strings.HasPrefix(string(b), "HTTP/1.1 403") {
		t.Fatalf("response %q", b)
	}
}
