// Package proxy is TrustyClaw's enforcing egress proxy: an HTTP/1.1
// forward proxy for plain http (port 80) and a TLS-intercepting CONNECT
// proxy for https/wss (port 443). Every request — each inner request of a
// kept-alive tunnel on its own — is decided by the policy engine before
// any DNS lookup or upstream connection, logged to the EventSink, and only
// then forwarded to an upstream whose every resolved address is public
// and whose TLS certificate verifies for the original host name.
//
// The proxy owns byte moving, framing checks (request smuggling, Host/SNI/
// CONNECT confusion), address vetting, body inspection for the
// live-web-search guard and resource bounds (connections, timeouts, a
// global memory budget). It must never decide policy itself, never
// forward a request it could not frame unambiguously, never resolve a
// name the policy denied, and never log header values (credentials live
// there).
package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
	"github.com/trustyclaw/trustyclaw/hostd/proxy/ca"
)

// PolicySource supplies the live enforcement policy and account pins. An
// error means the policy is missing or invalid: everything is denied.
type PolicySource interface {
	Current() (*policy.Compiled, policy.Pins, error)
}

// EventSink records one decision; it assigns seq and timestamp.
type EventSink interface {
	Record(ev netstate.Event)
}

// Resolver looks host names up (net.Resolver satisfies it).
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Dialer opens upstream TCP connections (net.Dialer satisfies it).
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// MaxBodyBytes is the per-request body cap of network-policy.md.
const MaxBodyBytes = 128 << 20

// Limits bound what one client, or all of them together, can hold.
// Zero fields take the defaults of DefaultLimits.
type Limits struct {
	MaxConns              int           // concurrent client connections; more get 503
	HeaderTimeout         time.Duration // to read one request head once it started
	IdleTimeout           time.Duration // between requests on a kept-alive connection
	BodyReadTimeout       time.Duration // longest gap between request body reads
	WriteTimeout          time.Duration // longest single write to the client
	TLSHandshakeTimeout   time.Duration // client and upstream handshakes
	DialTimeout           time.Duration // resolve + connect upstream
	ResponseHeaderTimeout time.Duration // upstream's time to answer with headers
	WebSocketIdleTimeout  time.Duration // relay closes after this long without traffic
	PolicyRecheck         time.Duration // how often an open WebSocket is re-decided
	MaxBodyBytes          int64         // per request body (and per WebSocket message)
	MemoryBudget          int64         // bytes all connections may buffer together
	BudgetWait            time.Duration // wait for budget before answering 503
	MaxIdleUpstream       int           // pooled idle upstream connections per host
}

// DefaultLimits are sized for one agent host.
func DefaultLimits() Limits {
	return Limits{
		MaxConns:              512,
		HeaderTimeout:         10 * time.Second,
		IdleTimeout:           2 * time.Minute,
		BodyReadTimeout:       30 * time.Second,
		WriteTimeout:          60 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		DialTimeout:           15 * time.Second,
		ResponseHeaderTimeout: 10 * time.Minute,
		WebSocketIdleTimeout:  30 * time.Minute,
		PolicyRecheck:         5 * time.Second,
		MaxBodyBytes:          MaxBodyBytes,
		MemoryBudget:          384 << 20,
		BudgetWait:            15 * time.Second,
		MaxIdleUpstream:       16,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	if l.MaxConns <= 0 {
		l.MaxConns = d.MaxConns
	}
	set(&l.HeaderTimeout, d.HeaderTimeout)
	set(&l.IdleTimeout, d.IdleTimeout)
	set(&l.BodyReadTimeout, d.BodyReadTimeout)
	set(&l.WriteTimeout, d.WriteTimeout)
	set(&l.TLSHandshakeTimeout, d.TLSHandshakeTimeout)
	set(&l.DialTimeout, d.DialTimeout)
	set(&l.ResponseHeaderTimeout, d.ResponseHeaderTimeout)
	set(&l.WebSocketIdleTimeout, d.WebSocketIdleTimeout)
	set(&l.PolicyRecheck, d.PolicyRecheck)
	set(&l.BudgetWait, d.BudgetWait)
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MemoryBudget <= 0 {
		l.MemoryBudget = d.MemoryBudget
	}
	if l.MaxIdleUpstream <= 0 {
		l.MaxIdleUpstream = d.MaxIdleUpstream
	}
	return l
}

// Config is everything the proxy depends on.
type Config struct {
	Policy PolicySource  // required
	Events EventSink     // required
	CA     *ca.Authority // required: signs intercepted leaves
	// LeafCacheSize bounds the leaf certificate cache (default 1,000).
	LeafCacheSize int
	Resolver      Resolver // default net.DefaultResolver
	Dialer        Dialer   // default a net.Dialer
	// UpstreamRoots verifies upstream TLS; nil means the system roots.
	UpstreamRoots *x509.CertPool
	// DevUpstreams (dev mode only) maps a normalised host to the
	// address dialled instead of resolving it, after the policy allowed
	// the request. These addresses skip the public-address check; TLS
	// still verifies the original host name.
	DevUpstreams map[string]string
	Limits       Limits
	Clock        func() time.Time // default time.Now
	Logger       zerolog.Logger
}

// Proxy is one enforcing proxy instance. Create with New, run with Serve.
type Proxy struct {
	cfg Config
	lim Limits
	log zerolog.Logger
	// decisionLog is log with a burst limit: the network event log keeps
	// every decision; the journal copy must not let an agent flood it.
	decisionLog zerolog.Logger
	leaves      *ca.LeafCache
	budget      *memoryBudget
	transport   *http.Transport
	slots       chan struct{}
	listening   atomic.Bool

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// decisionLogBurst is how many decision lines per second reach the
// process log; the rest of that second's are dropped from the log only.
const decisionLogBurst = 50

// New validates cfg and builds a proxy.
func New(cfg Config) (*Proxy, error) {
	switch {
	case cfg.Policy == nil:
		return nil, errors.New("proxy config: Policy is required")
	case cfg.Events == nil:
		return nil, errors.New("proxy config: Events is required")
	case cfg.CA == nil:
		return nil, errors.New("proxy config: CA is required")
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	lim := cfg.Limits.withDefaults()
	if cfg.Dialer == nil {
		cfg.Dialer = &net.Dialer{Timeout: lim.DialTimeout, KeepAlive: 30 * time.Second}
	}
	dev := make(map[string]string, len(cfg.DevUpstreams))
	for h, addr := range cfg.DevUpstreams {
		n, err := policy.NormalizeHost(h)
		if err != nil {
			return nil, fmt.Errorf("proxy config: dev upstream host %q: %w", h, err)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("proxy config: dev upstream %s=%s: address must be HOST:PORT: %w", h, addr, err)
		}
		dev[n] = addr
	}
	cfg.DevUpstreams = dev
	p := &Proxy{
		cfg:    cfg,
		lim:    lim,
		log:    cfg.Logger.With().Str(logging.FieldComponent, "proxy").Logger(),
		leaves: ca.NewLeafCache(cfg.CA, cfg.LeafCacheSize, cfg.Clock),
		budget: newMemoryBudget(lim.MemoryBudget),
		slots:  make(chan struct{}, lim.MaxConns),
		conns:  map[net.Conn]struct{}{},
	}
	p.decisionLog = p.log.Sample(&zerolog.BurstSampler{Burst: decisionLogBurst, Period: time.Second})
	p.transport = p.newTransport()
	return p, nil
}

func (p *Proxy) newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            p.dialPlain,
		DialTLSContext:         p.dialTLS,
		DisableCompression:     true, // bytes pass through as the upstream encoded them
		MaxIdleConns:           p.lim.MaxIdleUpstream * 16,
		MaxIdleConnsPerHost:    p.lim.MaxIdleUpstream,
		IdleConnTimeout:        90 * time.Second,
		ResponseHeaderTimeout:  p.lim.ResponseHeaderTimeout,
		MaxResponseHeaderBytes: 1 << 20,
		WriteBufferSize:        8 << 10,
		ReadBufferSize:         16 << 10, // one TLS record; the TLS layer buffers below
		// HTTP/1.1 only towards the upstream (see docs/proxy.md).
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
}

// Listening reports whether Serve is accepting connections.
func (p *Proxy) Listening() bool { return p.listening.Load() }

// LeafCacheLen is the number of cached leaf certificates.
func (p *Proxy) LeafCacheLen() int { return p.leaves.Len() }

// BudgetStats reports buffered bytes in use and their peak.
func (p *Proxy) BudgetStats() (used, peak int64) { return p.budget.stats() }

// Serve accepts connections on ln until ctx is cancelled, then closes
// the listener and every client connection and waits for their handlers.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.listening.Store(true)
	defer p.listening.Store(false)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		_ = ln.Close()
		p.closeAll()
	}()
	p.log.Info().Str(logging.FieldAddr, ln.Addr().String()).Msg("proxy listening")
	var backoff time.Duration
	var err error
	for {
		var nc net.Conn
		nc, err = ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				err = nil
				break
			}
			if errors.Is(err, net.ErrClosed) {
				err = fmt.Errorf("accept proxy connection: %w", err)
				break
			}
			// EMFILE and friends pass; keep serving the connections we
			// have and retry with a capped back-off.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			p.log.Warn().Err(err).Dur("retry_in", backoff).Msg("accept failed")
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			continue
		}
		backoff = 0
		select {
		case p.slots <- struct{}{}:
		default:
			p.refuseBusy(nc)
			continue
		}
		p.track(nc, true)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer func() { <-p.slots }()
			defer p.track(nc, false)
			p.serveConn(ctx, nc)
		}()
	}
	cancel()
	<-stopped
	p.wg.Wait()
	p.transport.CloseIdleConnections()
	return err
}

func (p *Proxy) track(nc net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[nc] = struct{}{}
	} else {
		delete(p.conns, nc)
		_ = nc.Close()
	}
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for nc := range p.conns {
		_ = nc.Close()
	}
}

// refuseBusy answers a connection over the cap with 503 and closes it,
// without reading from it.
func (p *Proxy) refuseBusy(nc net.Conn) {
	// Burst-limited like decision lines: a client at the cap could
	// otherwise flood the log by opening connections.
	p.decisionLog.Warn().Str(logging.FieldAddr, nc.RemoteAddr().String()).Msg("connection cap reached; refusing client")
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = nc.Write([]byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nContent-Length: 40\r\n\r\nproxy connection limit reached; retry.\r\n"))
	_ = nc.Close()
}
