package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/proxy/ca"
)

// benchUpstream serves /small (2 bytes), /large (64 MiB) and /hold (one
// line, then held open until release is closed) over TLS for any SNI.
type benchUpstream struct {
	env     *env
	addr    string
	release chan struct{}
}

const largeSize = 64 << 20

func newBenchEnv(b *testing.B) *benchUpstream {
	e := startProxy(b, policyJSON(`"bench.example.test": {"allow_http_methods": ["GET"]}`))
	u := &benchUpstream{env: e, release: make(chan struct{})}
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	up := tlsUpstream(b, e.uca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			w.Header().Set("Content-Length", "2")
			_, _ = io.WriteString(w, "ok")
		case "/large":
			w.Header().Set("Content-Length", strconv.Itoa(largeSize))
			for range largeSize / len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "/hold":
			_, _ = io.WriteString(w, "data: start\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-u.release:
			case <-r.Context().Done():
			}
		}
	}))
	b.Cleanup(func() { close(u.release) })
	u.addr = up.Listener.Addr().String()
	e.p.cfg.DevUpstreams = map[string]string{"bench.example.test": u.addr}
	return u
}

func (u *benchUpstream) directClient() *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: u.env.uca.pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, u.addr)
		},
		DisableCompression: true,
		MaxConnsPerHost:    1,
	}}
}

func (u *benchUpstream) proxyClient() *http.Client {
	c := u.env.client()
	c.Transport.(*http.Transport).MaxConnsPerHost = 1
	return c
}

// mitmClient starts mitmdump in the same role (TLS interception, upstream
// verified against the test CA) or returns nil with the reason.
func (u *benchUpstream) mitmClient(b *testing.B) (*http.Client, string, string) {
	bin, err := exec.LookPath("mitmdump")
	if err != nil {
		return nil, "", "mitmdump not installed (make bench-tools installs Debian's mitmproxy)"
	}
	dir := b.TempDir()
	caFile := filepath.Join(dir, "upstream-ca.pem")
	if err := os.WriteFile(caFile, u.env.uca.auth.CertPEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-q", "--listen-host", "127.0.0.1", "--listen-port", strconv.Itoa(port),
		"--set", "confdir="+dir, "--set", "ssl_verify_upstream_trusted_ca="+caFile, "--set", "http2=false")
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, "", "mitmdump failed to start: " + err.Error()
	}
	b.Cleanup(func() { cancel(); _ = cmd.Wait() })
	mitmCA := filepath.Join(dir, "mitmproxy-ca-cert.pem")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(mitmCA); err == nil {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				break
			}
		}
		if time.Now().After(deadline) {
			return nil, "", "mitmdump did not come up within 30 s"
		}
		time.Sleep(100 * time.Millisecond)
	}
	pemBytes, err := os.ReadFile(mitmCA)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", port))
	_, upPort, _ := net.SplitHostPort(u.addr)
	// mitmproxy resolves the CONNECT host itself: "localhost" reaches the
	// loopback upstream, whose certificate the test CA mints for it.
	return &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool},
		DisableCompression: true, MaxConnsPerHost: 1,
	}}, "https://localhost:" + upPort, ""
}

func fetch(b *testing.B, c *http.Client, rawURL string) int64 {
	resp, err := c.Get(rawURL)
	if err != nil {
		b.Fatalf("GET %s: %v", rawURL, err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d %v", rawURL, resp.StatusCode, err)
	}
	return n
}

// latencies runs n sequential requests on one kept-alive connection.
func latencies(b *testing.B, c *http.Client, rawURL string, n int) []time.Duration {
	for range 20 {
		fetch(b, c, rawURL) // warm: handshakes, pools, leaf mint
	}
	out := make([]time.Duration, n)
	for i := range out {
		start := time.Now()
		fetch(b, c, rawURL)
		out[i] = time.Since(start)
	}
	slices.Sort(out)
	return out
}

func pct(d []time.Duration, p float64) float64 {
	return float64(d[int(float64(len(d)-1)*p)].Microseconds())
}

// rps runs workers kept-alive clients, each doing per requests.
func rps(b *testing.B, newClient func() *http.Client, rawURL string, workers, per int) float64 {
	clients := make([]*http.Client, workers)
	for i := range clients {
		clients[i] = newClient()
		fetch(b, clients[i], rawURL)
	}
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				fetch(b, c, rawURL)
			}
		}()
	}
	wg.Wait()
	return float64(workers*per) / time.Since(start).Seconds()
}

// BenchmarkProxySmallHTTPS: small HTTPS requests on kept-alive
// connections, direct vs through this proxy vs through mitmproxy in the
// same role. One iteration is a complete measurement.
func BenchmarkProxySmallHTTPS(b *testing.B) {
	u := newBenchEnv(b)
	const seq, workers, per = 1000, 4, 500
	for range b.N {
		direct := latencies(b, u.directClient(), "https://bench.example.test/small", seq)
		proxied := latencies(b, u.proxyClient(), "https://bench.example.test/small", seq)
		b.ReportMetric(pct(direct, 0.5), "direct_p50_us")
		b.ReportMetric(pct(direct, 0.99), "direct_p99_us")
		b.ReportMetric(pct(proxied, 0.5), "proxy_p50_us")
		b.ReportMetric(pct(proxied, 0.99), "proxy_p99_us")
		b.ReportMetric(pct(proxied, 0.5)-pct(direct, 0.5), "added_p50_us")
		dr := rps(b, u.directClient, "https://bench.example.test/small", workers, per)
		pr := rps(b, u.proxyClient, "https://bench.example.test/small", workers, per)
		b.ReportMetric(dr, "direct_req/s")
		b.ReportMetric(pr, "proxy_req/s")
		b.ReportMetric(pr/dr, "proxy/direct_rps")
		mc, base, why := u.mitmClient(b)
		if mc == nil {
			b.Logf("mitmproxy comparison skipped: %s", why)
			continue
		}
		mitm := latencies(b, mc, base+"/small", seq/5)
		b.ReportMetric(pct(mitm, 0.5), "mitm_p50_us")
		b.ReportMetric(pct(mitm, 0.99), "mitm_p99_us")
		mr := rps(b, func() *http.Client { c, _, _ := u.mitmClient(b); return c }, base+"/small", 1, per/2)
		mrSingle := rps(b, u.proxyClient, "https://bench.example.test/small", 1, per/2)
		b.ReportMetric(mr, "mitm_1conn_req/s")
		b.ReportMetric(mrSingle, "proxy_1conn_req/s")
		b.ReportMetric(mrSingle/mr, "proxy/mitm_rps")
	}
}

// BenchmarkProxyLargeDownload: MB/s of a 64 MiB HTTPS download, direct
// vs through the proxy (TLS terminated and re-encrypted).
func BenchmarkProxyLargeDownload(b *testing.B) {
	u := newBenchEnv(b)
	measure := func(c *http.Client) float64 {
		fetch(b, c, "https://bench.example.test/small")
		start := time.Now()
		n := fetch(b, c, "https://bench.example.test/large")
		return float64(n) / (1 << 20) / time.Since(start).Seconds()
	}
	// Alternate the two paths and take medians: the machine is shared
	// and one sample of each is mostly noise.
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	for range b.N {
		var d, p []float64
		dc, pc := u.directClient(), u.proxyClient()
		for range 3 {
			d = append(d, measure(dc))
			p = append(p, measure(pc))
		}
		b.ReportMetric(median(d), "direct_MB/s")
		b.ReportMetric(median(p), "proxy_MB/s")
		b.ReportMetric(median(p)/median(d), "proxy/direct")
	}
}

// BenchmarkProxyMemory200Conns: RSS of a proxy process (this binary in
// child mode) idle, then holding 200 client connections, each a TLS
// tunnel with a streaming response in flight.
func BenchmarkProxyMemory200Conns(b *testing.B) {
	u := newBenchEnv(b)
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "upstream-ca.pem"), u.env.uca.auth.CertPEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "upstream-addr"), []byte(u.addr), 0o600); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		child := startProxyChild(b, dir)
		caPEM, err := os.ReadFile(filepath.Join(dir, "proxy-ca", ca.CertFile))
		if err != nil {
			b.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		idle, err := rssKiB(child.cmd.Process.Pid)
		if err != nil {
			b.Skipf("no /proc RSS: %v", err)
		}
		pu, _ := url.Parse("http://" + child.addr)
		var bodies []io.Closer
		for range 200 {
			c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}}}
			resp, err := c.Get("https://bench.example.test/hold")
			if err != nil {
				b.Fatal(err)
			}
			line := make([]byte, 5)
			if _, err := io.ReadFull(resp.Body, line); err != nil {
				b.Fatal(err)
			}
			bodies = append(bodies, resp.Body)
		}
		loaded, err := rssKiB(child.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(idle)/1024, "idle_RSS_MB")
		b.ReportMetric(float64(loaded)/1024, "200conns_RSS_MB")
		b.ReportMetric(float64(loaded-idle)/200, "KB/conn")
		for _, body := range bodies {
			_ = body.Close()
		}
		child.stop()
	}
}
