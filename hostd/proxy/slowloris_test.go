package proxy

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func shortTimeouts() Limits {
	l := testLimits()
	l.HeaderTimeout = 200 * time.Millisecond
	l.IdleTimeout = 300 * time.Millisecond
	l.BodyReadTimeout = 200 * time.Millisecond
	l.TLSHandshakeTimeout = 300 * time.Millisecond
	return l
}

// waitClosed reads until the proxy closes the connection, failing if it
// is still open after limit.
func waitClosed(t *testing.T, c net.Conn, limit time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %v", limit)
	}
}

func TestSlowlorisHeaderTricklingIsCutOff(t *testing.T) {
	e := startProxy(t, policyJSON(apiPolicy), withLimits(shortTimeouts()))
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	// Trickle a head, one byte per 50 ms, never finishing it.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, b := range []byte("GET http://api.example.test/v1/x HTTP/1.1\r\nHost: api.example.test\r\nX-Slow: ") {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	waitClosed(t, c, 5*time.Second)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed only after %v", d)
	}
	<-done
}

func TestIdleClientConnectionIsClosed(t *testing.T) {
	e := startProxy(t, policyJSON(apiPolicy), withLimits(shortTimeouts()))
	for _, first := range []string{"", "CONNECT api.example.test:443 HTTP/1.1\r\nHost: api.example.test:443\r\n\r\n"} {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, first) // then silence (no TLS handshake)
		waitClosed(t, c, 5*time.Second)
		c.Close()
	}
}

func TestSlowRequestBodyIsCutOff(t *testing.T) {
	e := startProxy(t, policyJSON(`"up.example.test": {"allow_http_methods": ["POST"]}`), withLimits(shortTimeouts()))
	got := make(chan error, 1)
	up := tlsUpstream(t, e.uca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	}))
	e.p.cfg.DevUpstreams = map[string]string{"up.example.test": up.Listener.Addr().String()}
	tc := e.tlsTunnel("up.example.test:443", "up.example.test")
	_, _ = io.WriteString(tc, "POST / HTTP/1.1\r\nHost: up.example.test\r\nContent-Length: 100\r\n\r\nonly-a-bit")
	waitClosed(t, tc, 5*time.Second)
	select {
	case err := <-got:
		if err == nil {
			t.Fatal("upstream received a complete body")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("upstream request was not aborted")
	}
	if !strings.Contains(e.events.all()[0].Reason, "client body read failed") {
		t.Fatalf("event %+v", e.events.all())
	}
}
