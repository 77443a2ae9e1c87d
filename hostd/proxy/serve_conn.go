package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// tunnel is the state of an intercepted CONNECT tunnel.
type tunnel struct {
	host string // normalised CONNECT target host
	port int
}

// serveConn runs one plain client connection: absolute-form http
// requests (kept alive) or one CONNECT.
func (p *Proxy) serveConn(ctx context.Context, nc net.Conn) {
	c := newClientConn(nc, nil, p.lim)
	for first := true; ; first = false {
		h, err := c.readHead(first)
		if err != nil {
			p.readFailed(c, err, netstate.Event{Protocol: "http"})
			return
		}
		if h.Method == http.MethodConnect {
			p.handleConnect(ctx, c, h)
			return
		}
		if !p.handleRequest(ctx, c, h, nil) {
			return
		}
	}
}

// readFailed answers a malformed head with 400 + a denial event; other
// errors (EOF, timeouts, resets) just end the connection.
func (p *Proxy) readFailed(c *clientConn, err error, ev netstate.Event) {
	if isMalformed(err) {
		ev.Decision, ev.Reason = decisionDenied, err.Error()
		p.record(ev)
		_ = c.writeText(http.StatusBadRequest, denialBody(err.Error(), ""), true)
		c.lingeringClose()
		return
	}
	if isTimeout(err) {
		p.log.Debug().Str(logging.FieldAddr, c.nc.RemoteAddr().String()).Msg("client timed out")
	}
}

// handleConnect decides a CONNECT, then intercepts its TLS and serves the
// inner requests, each decided on its own.
func (p *Proxy) handleConnect(ctx context.Context, c *clientConn, h *requestHead) {
	ev := netstate.Event{Protocol: "https", Method: http.MethodConnect}
	host, port, err := splitAuthority(h.Target)
	if err != nil {
		ev.Host = clip(h.Target)
		p.deny(c, ev, http.StatusBadRequest, "malformed CONNECT target: "+err.Error(), "", true)
		return
	}
	ev.Host, ev.Port = host, port
	if h.hasBody() {
		p.deny(c, ev, http.StatusBadRequest, "CONNECT request with a body", "", true)
		return
	}
	if h.HostHeader != "" && !sameAuthority(h.HostHeader, host, port) {
		p.deny(c, ev, http.StatusBadRequest, "CONNECT Host header "+strconv.Quote(clip(h.HostHeader))+" names another origin than the CONNECT target", "", true)
		return
	}
	comp, _, perr := p.cfg.Policy.Current()
	var d policy.Decision
	if perr != nil {
		d = policyUnavailable(perr)
	} else {
		d = comp.DecideConnect(host, port)
	}
	if !d.Allow {
		if d.Host != "" {
			ev.Host = d.Host
		}
		p.deny(c, ev, http.StatusForbidden, d.Reason, d.Hint, true)
		return
	}
	ev.Host = d.Host
	tun := &tunnel{host: d.Host, port: port}
	if _, err := c.bw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	if err := c.flush(); err != nil {
		return
	}
	// Bytes the client sent right after CONNECT are already buffered.
	raw := &bufferedConn{Conn: c.nc, r: c.br}
	var sni string
	tc := tls.Server(raw, &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			sni = hello.ServerName
			return p.leaves.Get(tun.host)
		},
	})
	hctx, cancel := context.WithTimeout(ctx, p.lim.TLSHandshakeTimeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		p.log.Debug().Err(err).Str(logging.FieldHost, tun.host).Msg("client TLS handshake failed")
		return
	}
	inner := newClientConn(tc, nil, p.lim)
	if sni != "" {
		if n, err := policy.NormalizeHost(sni); err != nil || n != tun.host {
			// The client would verify our leaf against the CONNECT target
			// while believing it talks to the SNI name (or vice versa):
			// one of them is being used to smuggle the other.
			p.denyTunnelMismatch(inner, ev, "TLS SNI "+strconv.Quote(clip(sni))+" does not match the CONNECT target "+strconv.Quote(tun.host))
			return
		}
	}
	for first := true; ; first = false {
		ih, err := inner.readHead(first)
		if err != nil {
			p.readFailed(inner, err, netstate.Event{Protocol: "https", Host: tun.host, Port: tun.port})
			break
		}
		if ih.Method == http.MethodConnect {
			p.deny(inner, netstate.Event{Protocol: "https", Method: ih.Method, Host: tun.host, Port: tun.port}, http.StatusBadRequest, "CONNECT inside a tunnel is not allowed", "", true)
			break
		}
		if !p.handleRequest(ctx, inner, ih, tun) {
			break
		}
	}
	_ = tc.CloseWrite()
}

// denyTunnelMismatch answers the first inner request (if one comes)
// with 400 and records the denial.
func (p *Proxy) denyTunnelMismatch(c *clientConn, ev netstate.Event, reason string) {
	if h, err := c.readHead(true); err == nil {
		ev.Method = h.Method
		ev.Path, ev.Query = splitTarget(originForm(h.Target))
	}
	p.deny(c, ev, http.StatusBadRequest, reason, "", true)
}

// splitAuthority parses a CONNECT authority "host:port".
func splitAuthority(s string) (string, int, error) {
	host, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 1 || port > 65535 || ps[0] == '+' || ps[0] == '0' {
		return "", 0, errors.New("invalid port")
	}
	if host == "" {
		return "", 0, errors.New("empty host")
	}
	return host, port, nil
}

// sameAuthority reports whether a CONNECT's Host header names the target
// host and port (the port may be left out), compared in normal form.
func sameAuthority(hostHeader, host string, port int) bool {
	hh, hp := hostHeader, port
	if h, p, err := splitAuthority(hostHeader); err == nil {
		hh, hp = h, p
	} else if strings.Contains(strings.Trim(hostHeader, "[]"), ":") && !strings.HasPrefix(hostHeader, "[") {
		return false // a port that does not parse
	}
	return authorityHost(hh) == authorityHost(host) && hp == port
}

// authorityHost is a host in normal form, or lower-cased when it has none
// (an IP literal: the policy refuses those later, with its own reason).
func authorityHost(h string) string {
	h = strings.Trim(h, "[]")
	if n, err := policy.NormalizeHost(h); err == nil {
		return n
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

func policyUnavailable(err error) policy.Decision {
	return policy.Decision{
		Step:   policy.StepPolicy,
		Reason: "the network policy or the provider account pins are unreadable or invalid, so everything is denied: " + err.Error(),
		Hint: "a bad policy: replace it with a valid one (PUT /v1/network/policy); a bad pins file: turn the managed providers off in the policy " +
			"(that rewrites the pins) and on again, then let the runtimes re-pin their accounts",
	}
}

// bufferedConn reads first what a bufio.Reader already holds.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) {
	if b.r.Buffered() > 0 {
		return b.r.Read(p)
	}
	return b.Conn.Read(p)
}

// CloseWrite lets the TLS layer half-close the TCP connection.
func (b *bufferedConn) CloseWrite() error {
	if cw, ok := b.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

var _ io.Reader = (*bufferedConn)(nil)

// Deadlines pass through to the TCP connection (embedded), so client
// timeouts apply inside tunnels too.
var _ interface{ SetReadDeadline(time.Time) error } = (*bufferedConn)(nil)
