package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// addressRefusedError: the name resolved to an address that is not
// publicly routable (the request is denied, the address never dialled).
type addressRefusedError struct {
	host string
	addr netip.Addr
}

func (e *addressRefusedError) Error() string {
	return fmt.Sprintf("%s resolves to %s, which is not a public address", e.host, e.addr)
}

// dialPlain is the Transport's dialer for http upstreams.
func (p *Proxy) dialPlain(ctx context.Context, _, addr string) (net.Conn, error) {
	return p.dialVetted(ctx, addr)
}

// dialTLS dials a vetted address and verifies the upstream's certificate
// for the original host name, TLS 1.2 or newer, HTTP/1.1 only.
func (p *Proxy) dialTLS(ctx context.Context, _, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("upstream address %q: %w", addr, err)
	}
	raw, err := p.dialVetted(ctx, addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, &tls.Config{
		ServerName: host,
		RootCAs:    p.cfg.UpstreamRoots,
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
	})
	hctx, cancel := context.WithTimeout(ctx, p.lim.TLSHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("upstream TLS handshake with %s: %w", host, err)
	}
	return tc, nil
}

// dialVetted resolves host once, refuses if ANY answer is not public,
// then dials the vetted addresses (never the name: no second lookup a
// rebinding DNS server could answer differently). Dev upstreams dial
// their configured address instead.
func (p *Proxy) dialVetted(ctx context.Context, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("upstream address %q: %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.lim.DialTimeout)
	defer cancel()
	if dev, ok := p.cfg.DevUpstreams[host]; ok {
		c, err := p.cfg.Dialer.DialContext(ctx, "tcp", dev)
		if err != nil {
			return nil, fmt.Errorf("dial dev upstream %s for %s: %w", dev, host, err)
		}
		return c, nil
	}
	ips, err := p.cfg.Resolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	vetted := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		a, ok := netip.AddrFromSlice(ip.IP)
		if !ok || !isPublicAddr(a) {
			return nil, &addressRefusedError{host: host, addr: a}
		}
		vetted = append(vetted, a.Unmap())
	}
	var errs []error
	for _, a := range vetted {
		c, err := p.cfg.Dialer.DialContext(ctx, "tcp", net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("dial %s: %w", host, errors.Join(errs...))
}
