// Package setup assembles the runtime adapters and account readers for
// the two ways hostd runs: dev mode (CLIs exec'd directly as the current
// user, environment built by agentenv, accounts read from the agent home)
// and host mode (everything through the root-owned sudo helpers).
//
// It only wires; it starts no process until an adapter is used.
package setup

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/agentenv"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/agentproc"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/claude"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/codex"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/supervisor"
)

// Runtimes is what the supervisor and orchestrator need.
type Runtimes struct {
	// Adapters has an entry only for runtimes whose CLI was found; the
	// supervisor reports a missing one as status error.
	Adapters map[agentrt.Type]agentrt.LoginAdapter
	Accounts supervisor.AccountReader
	// AgentHome is where the agent's HOME is.
	AgentHome string
	// Missing explains CLIs that were not found (for the start-up log).
	Missing []string
}

// List returns the adapters in the order of agentrt.Types (what the
// orchestrator's Config takes).
func (r Runtimes) List() []agentrt.Adapter {
	var out []agentrt.Adapter
	for _, t := range agentrt.Types {
		if a := r.Adapters[t]; a != nil {
			out = append(out, a)
		}
	}
	return out
}

// DevConfig is `hostd dev`'s view of the runtimes.
type DevConfig struct {
	StateDir string // agent home is <StateDir>/agent-home
	ProxyURL string // e.g. http://127.0.0.1:7445
	CAFile   string // <StateDir>/proxy-ca.crt
	// CodexBin / ClaudeBin from --codex-bin / --claude-bin; empty looks
	// the CLI up on PATH ("codex", "claude").
	CodexBin  string
	ClaudeBin string
	// AgentEnv are the raw --agent-env NAME=VALUE entries.
	AgentEnv     []string
	WarmCapacity int
	Log          zerolog.Logger
}

// Dev builds dev-mode runtimes. Bad --agent-env entries are an error.
func Dev(cfg DevConfig) (Runtimes, error) {
	home := filepath.Join(cfg.StateDir, "agent-home")
	if !filepath.IsAbs(home) {
		abs, err := filepath.Abs(home)
		if err != nil {
			return Runtimes{}, fmt.Errorf("agent home: %w", err)
		}
		home = abs
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return Runtimes{}, fmt.Errorf("create agent home: %w", err)
	}
	additions, err := agentenv.ParseAdditions(cfg.AgentEnv)
	if err != nil {
		return Runtimes{}, err
	}
	caFile, err := filepath.Abs(cfg.CAFile)
	if err != nil {
		return Runtimes{}, fmt.Errorf("proxy CA path: %w", err)
	}
	bins := map[agentrt.Type]string{}
	var missing []string
	for rt, spec := range map[agentrt.Type][2]string{agentrt.Codex: {cfg.CodexBin, "codex"}, agentrt.ClaudeCode: {cfg.ClaudeBin, "claude"}} {
		bin, err := findBin(spec[0], spec[1])
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s: %v", rt, err))
			continue
		}
		bins[rt] = bin
	}
	var pathDirs []string
	if node, err := exec.LookPath("node"); err == nil {
		pathDirs = append(pathDirs, filepath.Dir(node))
	}
	for _, b := range bins {
		pathDirs = append(pathDirs, filepath.Dir(b))
	}
	env := func(rt agentrt.Type) ([]string, error) {
		return agentenv.Build(agentenv.Config{
			Home: home, ProxyURL: cfg.ProxyURL, CAFile: caFile, User: os.Getenv("USER"),
			PathDirs: pathDirs, RunsAsRoot: os.Geteuid() == 0, Additions: additions,
		}, rt)
	}
	var starter agentproc.Starter = devOverrides{
		Starter: agentproc.DevStarter{Bins: bins, Env: env, Dir: home},
		args:    map[agentrt.Type][]string{agentrt.Codex: DevCodexOverrides},
	}
	return Runtimes{
		Adapters:  adapters(bins, starter, home, cfg.WarmCapacity, cfg.Log),
		Accounts:  supervisor.HomeAccounts{Home: home},
		AgentHome: home,
		Missing:   missing,
	}, nil
}

// DevCodexOverrides are appended to every Codex command line in dev mode
// (a later -c wins). On a host the root-owned /etc/codex/requirements.toml
// holds web search at "cached"; dev mode has no such file, and Codex
// (0.169) upgrades "cached" to live search under danger-full-access, so
// every turn to a guarded OpenAI host would carry a live web_search tool
// and be refused by the proxy's live-web-search guard. Without the
// requirements file the only mode that is not live is none at all.
var DevCodexOverrides = []string{"-c", `web_search="disabled"`}

// devOverrides appends per-runtime arguments to what the adapters ask
// the dev starter for.
type devOverrides struct {
	agentproc.Starter
	args map[agentrt.Type][]string
}

func (d devOverrides) Start(ctx context.Context, spec agentproc.Spec) (*agentproc.Process, error) {
	if extra := d.args[spec.Runtime]; len(extra) > 0 {
		spec.Args = append(append([]string(nil), spec.Args...), extra...)
	}
	return d.Starter.Start(ctx, spec)
}

func findBin(flag, name string) (string, error) {
	if flag == "" {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("%s not found on PATH (give --%s-bin)", name, name)
		}
		return filepath.Abs(p)
	}
	p, err := filepath.Abs(flag)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", flag)
	}
	return p, nil
}

// HostConfig is host mode: the CLIs and account readers run through the
// sudo helpers in HelperDir.
type HostConfig struct {
	HelperDir    string // sudohelper.DefaultDir
	Runner       supervisor.HelperRunner
	AgentHome    string // /mnt/trustyclaw-agent/agent-home (cwd sent to Codex)
	WarmCapacity int
	Log          zerolog.Logger
}

// Host builds host-mode runtimes.
func Host(cfg HostConfig) Runtimes {
	starter := agentproc.HelperStarter{Helpers: map[agentrt.Type]string{
		agentrt.Codex:      filepath.Join(cfg.HelperDir, "run-codex-app-server"),
		agentrt.ClaudeCode: filepath.Join(cfg.HelperDir, "run-claude-code"),
	}}
	bins := map[agentrt.Type]string{agentrt.Codex: "helper", agentrt.ClaudeCode: "helper"}
	return Runtimes{
		Adapters:  adapters(bins, starter, cfg.AgentHome, cfg.WarmCapacity, cfg.Log),
		Accounts:  supervisor.HelperAccounts{Runner: cfg.Runner},
		AgentHome: cfg.AgentHome,
	}
}

func adapters(bins map[agentrt.Type]string, starter agentproc.Starter, home string, warm int, log zerolog.Logger) map[agentrt.Type]agentrt.LoginAdapter {
	out := map[agentrt.Type]agentrt.LoginAdapter{}
	if bins[agentrt.Codex] != "" {
		out[agentrt.Codex] = codex.New(codex.Options{Starter: starter, Cwd: home, WarmCapacity: warm, Log: log})
	}
	if bins[agentrt.ClaudeCode] != "" {
		out[agentrt.ClaudeCode] = claude.New(claude.Options{Starter: starter, Log: log})
	}
	return out
}
