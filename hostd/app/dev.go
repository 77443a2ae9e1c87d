// Package app assembles hostd's components into the running services:
// `hostd dev` (everything in one process, docs/local-mode.md) and the
// host-mode admin service. It owns start-up order, shutdown order and the
// small files local mode publishes (listen.json, admin_password); every
// decision about tasks, policy or runtimes belongs to the packages it
// wires, never to this one.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/adminapi"
	"github.com/trustyclaw/trustyclaw/hostd/adminapi/auth"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/setup"
	"github.com/trustyclaw/trustyclaw/hostd/hostinfo"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/proxy/service"
)

// Defaults of `hostd dev` (local-mode.md).
const (
	DefaultDevStateDir    = ".trustyclaw-dev"
	DefaultDevAdminListen = "127.0.0.1:7443"
	DefaultDevProxyListen = "127.0.0.1:7445"
	DefaultDevAgentName   = "local-dev"
	// PasswordEnv names the environment variable that sets the admin
	// password. It is read once at start and never reaches an agent.
	PasswordEnv = "TRUSTYCLAW_ADMIN_PASSWORD"
)

// DevOptions are the flags of `hostd dev`.
type DevOptions struct {
	StateDir      string
	AdminListen   string
	ProxyListen   string
	AgentName     string
	CodexBin      string
	ClaudeBin     string
	DevUpstreams  []string // raw HOST=ADDR values
	DevUpstreamCA string
	AgentEnv      []string // raw NAME=VALUE values
	// Password is the admin password from the environment; empty means
	// read or generate <state-dir>/admin_password.
	Password string
	Log      zerolog.Logger
	// Out receives the start-up lines an operator reads (addresses, the
	// generated password once, the local-mode warning).
	Out io.Writer
	// Ready, when set, is called once both listeners serve.
	Ready func(adminAddr, proxyAddr string)
}

// Layout of a dev state directory.
type devPaths struct {
	root, admin, proxy, agentHome, caCert, listenJSON, password string
}

func newDevPaths(root string) (devPaths, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return devPaths{}, fmt.Errorf("state dir %q: %w", root, err)
	}
	return devPaths{
		root:       abs,
		admin:      filepath.Join(abs, "admin"),
		proxy:      filepath.Join(abs, "proxy"),
		agentHome:  filepath.Join(abs, "agent-home"),
		caCert:     filepath.Join(abs, "proxy-ca.crt"),
		listenJSON: filepath.Join(abs, "listen.json"),
		password:   filepath.Join(abs, "admin_password"),
	}, nil
}

// RunDev runs the whole host in one process until ctx is done, then shuts
// everything down in order: the admin API stops taking requests, running
// turns are stopped (their tasks become failed on the next start), the
// proxy closes, and the stores are closed last.
func RunDev(ctx context.Context, o DevOptions) (err error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.StateDir == "" {
		o.StateDir = DefaultDevStateDir
	}
	if o.AdminListen == "" {
		o.AdminListen = DefaultDevAdminListen
	}
	if o.ProxyListen == "" {
		o.ProxyListen = DefaultDevProxyListen
	}
	if o.AgentName == "" {
		o.AgentName = DefaultDevAgentName
	}
	for _, l := range []struct{ flag, addr string }{{"--admin-listen", o.AdminListen}, {"--proxy-listen", o.ProxyListen}} {
		if err := requireLoopback(l.addr); err != nil {
			return fmt.Errorf("%w: %s %s: %v", ErrUsage, l.flag, l.addr, err)
		}
	}
	log := o.Log
	p, err := newDevPaths(o.StateDir)
	if err != nil {
		return err
	}
	for _, dir := range []string{p.root, p.admin, p.agentHome} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	// The state dir may hold an admin password and the CA key: keep it
	// private even when it already existed with looser permissions.
	if err := os.Chmod(p.root, 0o700); err != nil {
		return fmt.Errorf("restrict %s: %w", p.root, err)
	}
	devUpstreams, err := service.ParseDevUpstreams(o.DevUpstreams)
	if err != nil {
		return fmt.Errorf("%w: --dev-upstream: %v", ErrUsage, err)
	}

	password, generated, err := devPassword(o.Password, p.password)
	if err != nil {
		return err
	}
	// A password generated now is shown only in the ready banner: when
	// start-up fails before that, take it back, so the next start makes
	// (and shows) a fresh one instead of keeping one nobody saw.
	var shown atomic.Bool
	if generated {
		defer func() {
			if !shown.Load() {
				if rmErr := os.Remove(p.password); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
					log.Warn().Err(rmErr).Msg("remove the unshown generated admin password")
				}
			}
		}()
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return fmt.Errorf("hash admin password: %w", err)
	}

	openCtx, cancelOpen := context.WithTimeout(ctx, time.Minute)
	defer cancelOpen()
	px, err := service.Open(openCtx, service.Options{
		StateDir:      p.proxy,
		Listen:        o.ProxyListen,
		PublishCACert: p.caCert,
		DevUpstreams:  devUpstreams,
		DevUpstreamCA: o.DevUpstreamCA,
		Logger:        log,
	})
	if err != nil {
		return fmt.Errorf("start proxy: %w", err)
	}
	defer closeLogged(log, "proxy", px.Close)

	rts, err := setup.Dev(setup.DevConfig{
		StateDir:  p.root,
		ProxyURL:  "http://" + px.Addr(),
		CAFile:    p.caCert,
		CodexBin:  o.CodexBin,
		ClaudeBin: o.ClaudeBin,
		AgentEnv:  o.AgentEnv,
		Log:       log.With().Str(logging.FieldComponent, "runtime").Logger(),
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	for _, m := range rts.Missing {
		log.Warn().Str("detail", m).Msg("agent CLI not found; that runtime reports error until hostd dev is restarted with it")
	}

	adminLn, err := net.Listen("tcp", o.AdminListen)
	if err != nil {
		return fmt.Errorf("listen for the admin API on %s: %w", o.AdminListen, err)
	}
	defer adminLn.Close()

	pl, err := openPlane(ctx, planeConfig{
		AgentName:    o.AgentName,
		AdminDir:     p.admin,
		PasswordHash: hash,
		Listener:     adminLn,
		Network:      px.LocalClient(),
		Runtimes:     rts,
		Rebooter:     adminapi.LocalRebooter{},
		HostInfo: hostinfo.New(hostinfo.Config{Mounts: []hostinfo.Mount{
			{Name: "root", Path: "/"},
			{Name: "admin", Path: p.admin},
			{Name: "agent", Path: p.agentHome},
		}}),
		Log: log,
	})
	if err != nil {
		return err
	}
	defer pl.close()

	if err := writeListenJSON(p.listenJSON, adminLn.Addr().String(), px.Addr()); err != nil {
		return err
	}
	err = pl.run(map[string]func(context.Context) error{"proxy": px.Run}, func() {
		printDevBanner(o.Out, adminLn.Addr().String(), px.Addr(), p, password, generated, o.Password != "")
		shown.Store(true)
		log.Info().Str("admin", adminLn.Addr().String()).Str("proxy", px.Addr()).Str("state_dir", p.root).Msg("hostd dev ready")
		if o.Ready != nil {
			o.Ready(adminLn.Addr().String(), px.Addr())
		}
	})
	log.Info().Err(err).Msg("hostd dev stopped")
	return err
}

func printDevBanner(w io.Writer, admin, proxyAddr string, p devPaths, password string, generated, fromEnv bool) {
	fmt.Fprintln(w, "WARNING: local mode: agents run as your own user, with no separate Unix users, no nftables egress rules and no sudo helpers; only the proxy environment keeps their traffic on the policy.")
	fmt.Fprintf(w, "admin API + UI: http://%s/\n", admin)
	fmt.Fprintf(w, "proxy:          %s (CA certificate: %s)\n", proxyAddr, p.caCert)
	fmt.Fprintf(w, "state dir:      %s\n", p.root)
	switch {
	case fromEnv:
		fmt.Fprintf(w, "admin password: from %s\n", PasswordEnv)
	case generated:
		fmt.Fprintf(w, "admin password: %s (generated; also in %s)\n", password, p.password)
	default:
		fmt.Fprintf(w, "admin password: in %s\n", p.password)
	}
}

func closeLogged(log zerolog.Logger, what string, fn func() error) {
	if err := fn(); err != nil {
		log.Error().Err(err).Msgf("close %s", what)
	}
}

// requireLoopback refuses a listen address that is not on loopback: the
// admin API speaks plain HTTP (its Host check does not stop a remote
// caller, who can send any Host) and an open proxy would serve anyone on
// the network. Reach a dev host from elsewhere through an SSH tunnel.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return errors.New("must be a loopback address such as 127.0.0.1:PORT (hostd serves only this machine; use an SSH tunnel to reach it from elsewhere)")
	}
	return nil
}
