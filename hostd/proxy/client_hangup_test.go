package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

// silentUpstream accepts connections, reads one request (head and body)
// on each and never answers. It reports every request it read and every
// connection the proxy closed while it waited.
type silentUpstream struct {
	addr   string
	got    chan string   // "METHOD /path" of each request read
	closed chan struct{} // the proxy closed a waiting connection
	mu     sync.Mutex
	conns  map[net.Conn]bool // open connections, closed at cleanup
}

func startSilentUpstream(t *testing.T, uca *upstreamCA, useTLS bool) *silentUpstream {
	t.Helper()
	var ln net.Listener
	var err error
	if useTLS {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
				return uca.leaves.Get(hello.ServerName)
			},
		})
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &silentUpstream{addr: ln.Addr().String(), got: make(chan string, 8), closed: make(chan struct{}, 8), conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for c := range s.conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			go s.serve(c)
		}
	}()
	return s
}

func (s *silentUpstream) serve(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if _, err := io.Copy(io.Discard, req.Body); err != nil {
		return
	}
	s.got <- req.Method + " " + req.URL.Path
	// Think forever; a read error other than our own deadline means the
	// proxy gave up on the exchange and closed the connection.
	if _, err := br.ReadByte(); err != nil && !isTimeout(err) {
		s.closed <- struct{}{}
	}
}

// A client that hangs up while the upstream has not sent its response
// headers yet must end the upstream exchange at once (not after
// ResponseHeaderTimeout, 10 minutes) and leave one event behind that says
// the request was allowed, why it ended, and when it was decided.
func TestClientHangupBeforeResponseHeadersEndsTheUpstreamExchange(t *testing.T) {
	const host = "api.example.test"
	cases := []struct {
		name, protocol, method, raw string
		plain                       bool
	}{
		{name: "POST with a body in a tunnel", protocol: "https", method: "POST",
			raw: "POST /v1/responses HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"},
		{name: "chunked POST in a tunnel", protocol: "https", method: "POST",
			raw: "POST /v1/responses HTTP/1.1\r\nHost: " + host + "\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"},
		{name: "GET in a tunnel", protocol: "https", method: "GET",
			raw: "GET /v1/models HTTP/1.1\r\nHost: " + host + "\r\n\r\n"},
		{name: "WebSocket handshake in a tunnel", protocol: "wss", method: "GET",
			raw: "GET /v1/realtime HTTP/1.1\r\nHost: " + host + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"},
		{name: "plain HTTP POST", protocol: "http", method: "POST", plain: true,
			raw: "POST http://" + host + "/v1/responses HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 2\r\n\r\n{}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := startProxy(t, policyJSON(apiPolicy))
			up := startSilentUpstream(t, e.uca, !tc.plain)
			e.p.cfg.DevUpstreams = map[string]string{host: up.addr}

			var conn net.Conn
			if tc.plain {
				c, err := net.Dial("tcp", e.addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
				conn = c
			} else {
				conn = e.tlsTunnel(host+":443", host)
			}
			if _, err := io.WriteString(conn, tc.raw); err != nil {
				t.Fatal(err)
			}
			select {
			case <-up.got:
			case <-time.After(5 * time.Second):
				t.Fatal("the request never reached the upstream")
			}
			hungUp := time.Now()
			_ = conn.Close()

			select {
			case <-up.closed:
			case <-time.After(2 * time.Second):
				t.Fatal("the proxy kept its upstream connection open after the client hung up")
			}
			if d := time.Since(hungUp); d > 2*time.Second {
				t.Fatalf("upstream closed %v after the client hung up", d)
			}
			ev := e.events.waitFor(t, "for the abandoned request", func(ev netstate.Event) bool { return ev.Method == tc.method })
			if ev.Decision != decisionAllowed || ev.Reason != reasonClientGone || ev.Protocol != tc.protocol || ev.Host != host {
				t.Fatalf("event = %+v", ev)
			}
			if ev.Timestamp.IsZero() || ev.Timestamp.After(hungUp) {
				t.Fatalf("event time %v is not the decision time (client hung up at %v)", ev.Timestamp, hungUp)
			}
			time.Sleep(50 * time.Millisecond) // a second event would be a bug
			if n := len(e.events.all()); n != 1 {
				t.Fatalf("%d events, want 1: %+v", n, e.events.all())
			}
		})
	}
}

// While the proxy watches the client for a hang-up, a request the client
// pipelines behind the first one must stay buffered and be served next.
func TestRequestPipelinedWhileTheUpstreamThinksIsServed(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	e := startProxy(t, policyJSON(apiPolicy))
	up := tlsUpstream(t, e.uca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/slow" {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}
		fmt.Fprintf(w, "%s:%s", r.URL.Path, b)
	}))
	e.p.cfg.DevUpstreams = map[string]string{"api.example.test": up.Listener.Addr().String()}

	tc := e.tlsTunnel("api.example.test:443", "api.example.test")
	_, _ = io.WriteString(tc, "POST /v1/slow HTTP/1.1\r\nHost: api.example.test\r\nContent-Length: 1\r\n\r\na")
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("first request never reached the upstream")
	}
	_, _ = io.WriteString(tc, "POST /v1/next HTTP/1.1\r\nHost: api.example.test\r\nContent-Length: 1\r\n\r\nb")
	time.Sleep(100 * time.Millisecond) // let the watch read it
	close(release)
	br := bufio.NewReader(tc)
	for _, want := range []string{"/v1/slow:a", "/v1/next:b"} {
		_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading the answer to %s: %v", want, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want || resp.StatusCode != 200 {
			t.Fatalf("got %d %q, want %q", resp.StatusCode, b, want)
		}
	}
	for _, ev := range e.events.all() {
		if ev.Reason != "" {
			t.Fatalf("unexpected event %+v", ev)
		}
	}
}

// A proxy that shuts down while an allowed request waits for its
// upstream records that request at once, with the shutdown as its reason.
func TestShutdownWhileTheUpstreamThinksRecordsTheRequest(t *testing.T) {
	const host = "api.example.test"
	e := startProxy(t, policyJSON(apiPolicy))
	up := startSilentUpstream(t, e.uca, true)
	e.p.cfg.DevUpstreams = map[string]string{host: up.addr}
	// A second Serve on the same proxy, so the test controls shutdown.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- e.p.Serve(ctx, ln) }()
	e.addr = ln.Addr().String()

	conn := e.tlsTunnel(host+":443", host)
	_, _ = io.WriteString(conn, "POST /v1/responses HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 2\r\n\r\n{}")
	select {
	case <-up.got:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the upstream")
	}
	stopped := time.Now()
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return while a request waited for its upstream")
	}
	select {
	case <-up.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the upstream connection outlived the proxy")
	}
	evs := e.events.all()
	if len(evs) != 1 || evs[0].Decision != decisionAllowed || evs[0].Reason != reasonShutdown || evs[0].Timestamp.After(stopped) {
		t.Fatalf("events = %+v", evs)
	}
}

// The new-user trial: curl gives up on a POST whose upstream never
// answers; the proxy must let go of the upstream and record the request.
func TestCurlTimingOutOnASilentUpstream(t *testing.T) {
	curl := curlPath(t)
	const host = "api.example.test"
	e := startProxy(t, policyJSON(apiPolicy))
	up := startSilentUpstream(t, e.uca, true)
	e.p.cfg.DevUpstreams = map[string]string{host: up.addr}
	caFile := filepath.Join(t.TempDir(), "proxy-ca.crt")
	if err := e.ca.WriteCertPEM(caFile); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, "-sS", "--max-time", "1", "--noproxy", "", "--cacert", caFile,
		"-x", "http://"+e.addr, "-X", "POST", "-d", "{}", "https://"+host+"/v1/responses")
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+caFile, "CURL_CA_BUNDLE="+caFile)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 28 { // 28: operation timed out
		t.Fatalf("curl: %v (%s), want its timeout (exit 28)", err, out)
	}
	select {
	case <-up.got:
	default:
		t.Fatal("the request never reached the upstream")
	}
	select {
	case <-up.closed:
	case <-time.After(2 * time.Second):
		t.Fatal("the proxy kept its upstream connection open after curl gave up")
	}
	ev := e.events.waitFor(t, "for curl's POST", func(ev netstate.Event) bool { return ev.Method == "POST" })
	if ev.Decision != decisionAllowed || ev.Reason != reasonClientGone {
		t.Fatalf("event = %+v", ev)
	}
}
