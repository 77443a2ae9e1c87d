package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/adminapi"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/setup"
	"github.com/trustyclaw/trustyclaw/hostd/hostinfo"
	"github.com/trustyclaw/trustyclaw/hostd/proxystate"
	"github.com/trustyclaw/trustyclaw/hostd/sudohelper"
)

// Host-mode defaults (architecture.md).
const (
	DefaultAdminStateDir = "/mnt/trustyclaw-admin/admin-state"
	DefaultAgentHome     = "/mnt/trustyclaw-agent/agent-home"
	DefaultAdminListen   = "127.0.0.1:7443"
	DefaultProxyAddr     = "127.0.0.1:7445"
	// PasswordHashFile, inside the admin state dir, holds the argon2id hash
	// of the admin password (written by the bootstrap with
	// `hostd hash-password`). The cleartext never touches the host's disk.
	PasswordHashFile = "admin_password.hash"
)

// HostOptions are the flags of `hostd admin-api`.
type HostOptions struct {
	AgentName string
	StateDir  string
	Listen    string
	ProxyAddr string // where the proxy service listens (for health)
	HelperDir string
	AgentHome string
	Log       zerolog.Logger
}

// RunAdminHost runs the host-mode admin service: the admin API,
// orchestrator and runtime supervisor, reaching proxy state and the agent
// user only through the root-owned sudo helpers.
func RunAdminHost(ctx context.Context, o HostOptions) error {
	if o.AgentName == "" {
		return fmt.Errorf("%w: --agent-name is required", ErrUsage)
	}
	hashBytes, err := os.ReadFile(filepath.Join(o.StateDir, PasswordHashFile))
	if err != nil {
		return fmt.Errorf("read the admin password hash (the bootstrap writes it): %w", err)
	}
	runner := &sudohelper.Sudo{Dir: o.HelperDir}
	network := proxystate.NewHelperClient(runner, func() bool { return tcpListening(o.ProxyAddr) })
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen for the admin API on %s: %w", o.Listen, err)
	}
	defer ln.Close()
	pl, err := openPlane(ctx, planeConfig{
		AgentName:    o.AgentName,
		AdminDir:     o.StateDir,
		PasswordHash: strings.TrimSpace(string(hashBytes)),
		Listener:     ln,
		Network:      network,
		Runtimes: setup.Host(setup.HostConfig{
			HelperDir: o.HelperDir,
			Runner:    runner,
			AgentHome: o.AgentHome,
			Log:       o.Log,
		}),
		Rebooter: adminapi.HelperRebooter{Runner: runner},
		HostInfo: hostinfo.New(hostinfo.Config{Mounts: hostinfo.HostMounts()}),
		Log:      o.Log,
	})
	if err != nil {
		return err
	}
	defer pl.close()
	return pl.run(nil, func() {
		o.Log.Info().Str("admin", ln.Addr().String()).Msg("admin API ready")
	})
}

// tcpListening reports whether something accepts connections at addr.
func tcpListening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, dialProbeTimeout)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
