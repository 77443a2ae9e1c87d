package fakemodel

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Proxy is a minimal CONNECT proxy for tests. It tunnels only to its
// fixed Target (the fake model server) whatever host the client names,
// which is how `hostd dev --dev-upstream` maps a provider host name too.
type Proxy struct {
	Addr   string
	Target string

	srv *http.Server

	mu       sync.Mutex
	connects []string
	deny     bool
}

// SetDeny makes the proxy refuse every CONNECT with 403, as the
// enforcing proxy does for a host the policy does not allow.
func (p *Proxy) SetDeny(deny bool) {
	p.mu.Lock()
	p.deny = deny
	p.mu.Unlock()
}

// StartProxy listens on 127.0.0.1:0 and tunnels every CONNECT to target.
func StartProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: ln.Addr().String(), Target: target}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// URL is the proxy URL for the agent environment.
func (p *Proxy) URL() string { return "http://" + p.Addr }

// Close stops the proxy (tunnels end with it).
func (p *Proxy) Close() { _ = p.srv.Close() }

// Connects lists the CONNECT targets clients asked for.
func (p *Proxy) Connects() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.connects...)
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "only CONNECT", http.StatusMethodNotAllowed)
		return
	}
	p.mu.Lock()
	p.connects = append(p.connects, r.Host)
	deny := p.deny
	p.mu.Unlock()
	if deny {
		http.Error(w, "denied by policy", http.StatusForbidden)
		return
	}
	if !strings.HasPrefix(p.Target, "127.0.0.1:") {
		http.Error(w, "loopback only", http.StatusForbidden)
		return
	}
	up, err := net.DialTimeout("tcp", p.Target, 5*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		return
	}
	w.WriteHeader(http.StatusOK)
	c, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	go func() {
		if buf.Reader.Buffered() > 0 {
			b, _ := buf.Reader.Peek(buf.Reader.Buffered())
			_, _ = up.Write(b)
		}
		_, _ = io.Copy(up, c)
		up.Close()
	}()
	go func() {
		_, _ = io.Copy(c, up)
		c.Close()
	}()
}
