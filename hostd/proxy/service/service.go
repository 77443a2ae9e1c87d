// Package service assembles the enforcing proxy with its state directory:
// the local CA (created on first start), the proxy state (policy, pins,
// network event log) from hostd/proxystate, the upstream trust roots and
// the listener. Host mode (`hostd proxy`) and dev mode (`hostd dev`)
// both start the proxy through Open, so they differ only in options.
//
// It must never accept dev upstreams or a dev CA in host mode (the
// command line of `hostd proxy` has no such flags), and never publish the
// CA private key.
package service

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/proxy"
	"github.com/trustyclaw/trustyclaw/hostd/proxy/ca"
	"github.com/trustyclaw/trustyclaw/hostd/proxystate"
)

// Defaults of the host-mode service (architecture.md).
const (
	DefaultListen   = "127.0.0.1:7445"
	DefaultStateDir = "/mnt/trustyclaw-admin/proxy-state"
)

// Options configure one proxy service.
type Options struct {
	StateDir string // created 0700 when missing
	Listen   string // host:port; port 0 picks a free port
	// PublishCACert, when set, receives the public CA certificate (PEM)
	// so agents can trust it (dev mode: <state-dir>/proxy-ca.crt).
	PublishCACert string
	// DevUpstreams and DevUpstreamCA are for dev mode only: see
	// proxy.Config.DevUpstreams and docs/local-mode.md.
	DevUpstreams  map[string]string
	DevUpstreamCA string
	Limits        proxy.Limits
	Clock         func() time.Time
	Logger        zerolog.Logger
}

// Service is an opened, not yet serving, proxy.
type Service struct {
	Proxy *proxy.Proxy
	State *proxystate.ProxyState
	CA    *ca.Authority
	ln    net.Listener
	log   zerolog.Logger
}

// Open prepares the state directory, CA, state and listener.
func Open(ctx context.Context, o Options) (*Service, error) {
	if o.StateDir == "" {
		return nil, errors.New("proxy service: state dir is required")
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create proxy state dir: %w", err)
	}
	auth, err := ca.LoadOrCreate(o.StateDir, o.Clock())
	if err != nil {
		return nil, err
	}
	if o.PublishCACert != "" {
		if err := auth.WriteCertPEM(o.PublishCACert); err != nil {
			return nil, err
		}
	}
	roots, err := upstreamRoots(o.DevUpstreamCA)
	if err != nil {
		return nil, err
	}
	st, err := proxystate.OpenProxyState(ctx, o.StateDir, proxystate.EventLogOptions{Now: o.Clock, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	p, err := proxy.New(proxy.Config{
		Policy:        st,
		Events:        st,
		CA:            auth,
		UpstreamRoots: roots,
		DevUpstreams:  o.DevUpstreams,
		Limits:        o.Limits,
		Clock:         o.Clock,
		Logger:        o.Logger,
	})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("listen for the proxy on %s: %w", o.Listen, err)
	}
	if len(o.DevUpstreams) > 0 {
		hosts := make([]string, 0, len(o.DevUpstreams))
		for h := range o.DevUpstreams {
			hosts = append(hosts, h)
		}
		sort.Strings(hosts)
		o.Logger.Warn().Strs("dev_upstreams", hosts).Msg("dev upstreams active: these hosts are dialled at fixed addresses, exempt from the public-address check")
	}
	if err := st.Dir.Validity(); err != nil {
		o.Logger.Error().Err(err).Msg("network policy state is invalid; the proxy denies everything until it is fixed")
	}
	return &Service{Proxy: p, State: st, CA: auth, ln: ln, log: o.Logger}, nil
}

// upstreamRoots is nil (system roots) unless a dev CA is added to them.
func upstreamRoots(devCA string) (*x509.CertPool, error) {
	if devCA == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(devCA)
	if err != nil {
		return nil, fmt.Errorf("read dev upstream CA: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("dev upstream CA %s holds no PEM certificate", devCA)
	}
	return pool, nil
}

// Addr is the address the proxy listens on.
func (s *Service) Addr() string { return s.ln.Addr().String() }

// Listening reports whether the proxy is serving.
func (s *Service) Listening() bool { return s.Proxy.Listening() }

// Run serves until ctx is cancelled, then closes the listener, the
// client connections and the state (flushing the event log).
func (s *Service) Run(ctx context.Context) error {
	s.log.Info().Str(logging.FieldAddr, s.Addr()).Msg("proxy service started")
	err := s.Proxy.Serve(ctx, s.ln)
	if cerr := s.State.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close proxy state: %w", cerr)
	}
	return err
}

// LocalClient is the admin service's in-process view of this proxy's
// state (dev mode): policy, pins, status and the event log, sharing the
// proxy's Dir and EventLog.
func (s *Service) LocalClient() *proxystate.LocalClient {
	return proxystate.NewLocalClient(s.State.Dir, s.Listening, s.State.EventLog)
}

// Close releases a service that was opened but never Run.
func (s *Service) Close() error {
	_ = s.ln.Close()
	return s.State.Close()
}
