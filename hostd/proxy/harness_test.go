package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
	"github.com/trustyclaw/trustyclaw/hostd/proxy/ca"
)

// fakePolicy is a PolicySource over a policy JSON, with settable pins
// and a settable load error.
type fakePolicy struct {
	mu   sync.Mutex
	comp *policy.Compiled
	pins policy.Pins
	err  error
}

func newFakePolicy(t testing.TB, raw string) *fakePolicy {
	t.Helper()
	f := &fakePolicy{}
	f.set(t, raw)
	return f
}

func (f *fakePolicy) set(t testing.TB, raw string) {
	t.Helper()
	p, err := policy.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("test policy: %v", err)
	}
	c, err := policy.Compile(p)
	if err != nil {
		t.Fatalf("compile test policy: %v", err)
	}
	f.mu.Lock()
	f.comp = c
	f.mu.Unlock()
}

func (f *fakePolicy) setPins(p policy.Pins) { f.mu.Lock(); f.pins = p; f.mu.Unlock() }
func (f *fakePolicy) setErr(err error)      { f.mu.Lock(); f.err = err; f.mu.Unlock() }

func (f *fakePolicy) Current() (*policy.Compiled, policy.Pins, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, policy.Pins{}, f.err
	}
	return f.comp, f.pins, nil
}

// eventLog is an EventSink that keeps everything.
type eventLog struct {
	mu  sync.Mutex
	evs []netstate.Event
}

func (l *eventLog) Record(ev netstate.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev.Seq = int64(len(l.evs) + 1)
	l.evs = append(l.evs, ev)
}

func (l *eventLog) all() []netstate.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]netstate.Event(nil), l.evs...)
}

// waitFor polls until an event matching pred was recorded.
func (l *eventLog) waitFor(t *testing.T, what string, pred func(netstate.Event) bool) netstate.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range l.all() {
			if pred(ev) {
				return ev
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no event %s; have %+v", what, l.all())
	return netstate.Event{}
}

func (l *eventLog) denial(t *testing.T, host string) netstate.Event {
	t.Helper()
	return l.waitFor(t, "denied for "+host, func(ev netstate.Event) bool {
		return ev.Decision == decisionDenied && ev.Host == host
	})
}

// recordingResolver answers from a table and records every lookup.
type recordingResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	lookups []string
}

func (r *recordingResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups = append(r.lookups, host)
	var out []net.IPAddr
	for _, s := range r.answers[host] {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

func (r *recordingResolver) looked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lookups...)
}

// recordingDialer records dialled addresses and refuses them all: tests
// that reach it prove the proxy tried to connect.
type recordingDialer struct {
	mu     sync.Mutex
	dialed []string
	real   net.Dialer
}

func (d *recordingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, addr)
	d.mu.Unlock()
	host, _, _ := net.SplitHostPort(addr)
	if host == "127.0.0.1" {
		return d.real.DialContext(ctx, network, addr)
	}
	return nil, errors.New("test dialer: only loopback may be dialled")
}

func (d *recordingDialer) addrs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dialed...)
}

// upstreamCA makes upstream server certificates for any host name.
type upstreamCA struct {
	auth   *ca.Authority
	leaves *ca.LeafCache
	pool   *x509.CertPool
}

func newUpstreamCA(t testing.TB) *upstreamCA {
	t.Helper()
	a, err := ca.LoadOrCreate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(a.Certificate())
	return &upstreamCA{auth: a, leaves: ca.NewLeafCache(a, 100, nil), pool: pool}
}

// counter counts requests that reached an upstream.
type counter struct{ n atomic.Int64 }

func (c *counter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		h.ServeHTTP(w, r)
	})
}

// tlsUpstream starts an HTTPS server that presents certificates for any
// SNI name from uca (so it can stand in for several hosts).
func tlsUpstream(t testing.TB, uca *upstreamCA, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = quietLog
	s.TLS = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return uca.leaves.Get(hello.ServerName)
		},
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// quietLog drops the upstream servers' expected handshake failures.
var quietLog = log.New(io.Discard, "", 0)

// env is a running proxy with its fakes.
type env struct {
	t        testing.TB
	p        *Proxy
	addr     string
	policy   *fakePolicy
	events   *eventLog
	resolver *recordingResolver
	dialer   *recordingDialer
	ca       *ca.Authority
	caPool   *x509.CertPool
	uca      *upstreamCA
}

type envOption func(*Config)

func withLimits(l Limits) envOption { return func(c *Config) { c.Limits = l } }

// testLimits are the defaults with timeouts short enough for tests.
func testLimits() Limits {
	l := DefaultLimits()
	l.HeaderTimeout = 5 * time.Second
	l.BudgetWait = 5 * time.Second
	return l
}

func startProxy(t testing.TB, policyJSON string, opts ...envOption) *env {
	t.Helper()
	auth, err := ca.LoadOrCreate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		t:        t,
		policy:   newFakePolicy(t, policyJSON),
		events:   &eventLog{},
		resolver: &recordingResolver{answers: map[string][]string{}},
		dialer:   &recordingDialer{},
		ca:       auth,
		caPool:   x509.NewCertPool(),
		uca:      newUpstreamCA(t),
	}
	e.caPool.AddCert(auth.Certificate())
	cfg := Config{
		Policy:        e.policy,
		Events:        e.events,
		CA:            auth,
		Resolver:      e.resolver,
		Dialer:        e.dialer,
		UpstreamRoots: e.uca.pool,
		Limits:        testLimits(),
		Logger:        logging.Nop(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("proxy did not shut down")
		}
	})
	return e
}

// client is a Go HTTP client that uses the proxy and trusts its CA.
func (e *env) client() *http.Client {
	u, _ := url.Parse("http://" + e.addr)
	tr := &http.Transport{
		Proxy:              http.ProxyURL(u),
		TLSClientConfig:    &tls.Config{RootCAs: e.caPool},
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// get fetches url through the proxy and returns status and body.
func (e *env) do(req *http.Request) (int, string) {
	e.t.Helper()
	resp, err := e.client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) get(rawURL string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req)
}

// dialTunnel opens a CONNECT tunnel to target and returns the raw
// connection after the proxy's 200, or the status line on refusal.
func (e *env) dialTunnel(target string) (net.Conn, string) {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	_, _ = io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var line []byte
	b := make([]byte, 1)
	for !strings.HasSuffix(string(line), "\r\n\r\n") {
		if _, err := c.Read(b); err != nil {
			return nil, string(line)
		}
		line = append(line, b[0])
	}
	_ = c.SetReadDeadline(time.Time{})
	if !strings.HasPrefix(string(line), "HTTP/1.1 200") {
		return nil, string(line)
	}
	return c, ""
}

// tlsTunnel opens a CONNECT tunnel and completes TLS with sni.
func (e *env) tlsTunnel(target, sni string) *tls.Conn {
	e.t.Helper()
	c, status := e.dialTunnel(target)
	if c == nil {
		e.t.Fatalf("CONNECT %s refused: %q", target, status)
	}
	tc := tls.Client(c, &tls.Config{ServerName: sni, RootCAs: e.caPool, InsecureSkipVerify: sni == ""})
	if err := tc.Handshake(); err != nil {
		e.t.Fatalf("TLS through tunnel: %v", err)
	}
	return tc
}

// rawExchange writes raw bytes on conn and reads the response head.
func rawExchange(t *testing.T, c net.Conn, raw string) *http.Response {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(newBufReader(c), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	return resp
}

func policyJSON(domains string) string {
	return `{"allowed_network_access": {` + domains + `}}`
}

func newBufReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
