package main

import (
	"context"
	"flag"
	"io"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/app"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runDev runs the whole host in one process (docs/local-mode.md).
func runDev(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hostd dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o app.DevOptions
	var upstreams, agentEnv multiFlag
	var consoleLog bool
	fs.StringVar(&o.StateDir, "state-dir", app.DefaultDevStateDir, "state directory (created 0700)")
	fs.StringVar(&o.AdminListen, "admin-listen", app.DefaultDevAdminListen, "admin API address (port 0 picks a free port)")
	fs.StringVar(&o.ProxyListen, "proxy-listen", app.DefaultDevProxyListen, "proxy address (port 0 picks a free port)")
	fs.StringVar(&o.AgentName, "agent-name", app.DefaultDevAgentName, "agent_name reported by health")
	fs.StringVar(&o.CodexBin, "codex-bin", "", "path of the codex CLI (default: codex on PATH)")
	fs.StringVar(&o.ClaudeBin, "claude-bin", "", "path of the claude CLI (default: claude on PATH)")
	fs.Var(&upstreams, "dev-upstream", "HOST=ADDR: after the policy allows HOST, connect to ADDR (repeatable)")
	fs.StringVar(&o.DevUpstreamCA, "dev-upstream-ca", "", "PEM CA file the proxy trusts for upstream TLS")
	fs.Var(&agentEnv, "agent-env", "NAME=VALUE added to every agent process's environment (repeatable)")
	fs.BoolVar(&consoleLog, "console-log", false, "human-readable logs instead of JSON lines")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o.DevUpstreams, o.AgentEnv = upstreams, agentEnv
	o.Password = os.Getenv(app.PasswordEnv)
	o.Out = stdout
	o.Log = logging.New(logging.Options{Writer: stderr, Console: consoleLog, Level: zerolog.InfoLevel})
	return app.RunDev(ctx, o) // app.ErrUsage is errUsage: a usage error exits 2
}
