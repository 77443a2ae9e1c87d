package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentenv"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/accounts"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/claude"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/codex"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/supervisor"
	"github.com/trustyclaw/trustyclaw/hostd/sudohelper"
)

// Runtime helper names (docs/helpers.md).
const (
	helperRunCodex        = "run-codex-app-server"
	helperRunClaude       = "run-claude-code"
	helperReadCodexID     = "read-codex-account-id"
	helperReadClaudeAcct  = "read-claude-account"
	agentUser             = "trustyclaw-agent"
	agentUID              = 47743
	agentCLIStdinEOFGrace = 5 * time.Second
	claudeAuthTimeout     = 2 * time.Minute
)

// runtimeHostConfig is the fixed host layout the runtime helpers use.
// Nothing in it comes from the caller.
type runtimeHostConfig struct {
	AgentHome string
	ProxyURL  string
	CAFile    string
	CodexBin  string
	ClaudeBin string
	PathDirs  []string
}

func hostRuntimeConfig() runtimeHostConfig {
	return runtimeHostConfig{
		AgentHome: "/mnt/trustyclaw-agent/agent-home",
		ProxyURL:  "http://127.0.0.1:7445",
		// Installed by bootstrap from the proxy's public CA certificate.
		CAFile:    "/usr/local/share/ca-certificates/trustyclaw-proxy-ca.crt",
		CodexBin:  "/usr/local/bin/codex",
		ClaudeBin: "/usr/local/bin/claude",
		PathDirs:  []string{"/usr/local/bin", "/usr/bin"},
	}
}

// runtimeHelperDeps is what the runtime helpers consult, swappable in
// tests.
type runtimeHelperDeps struct {
	cfg    runtimeHostConfig
	euid   func() int
	demote func() error
	// eofGrace: after the caller closes stdin, how long the CLI has to
	// exit before its process group is killed.
	eofGrace time.Duration
}

func realRuntimeHelperDeps() runtimeHelperDeps {
	return runtimeHelperDeps{
		cfg:      hostRuntimeConfig(),
		euid:     os.Geteuid,
		demote:   func() error { return sudohelper.DemoteToUser(agentUser, agentUID) },
		eofGrace: agentCLIStdinEOFGrace,
	}
}

// runtimeHelpers: run-codex-app-server, run-claude-code,
// read-codex-account-id, read-claude-account (owned by the runtimes work).
func runtimeHelpers() map[string]helperFunc {
	d := realRuntimeHelperDeps()
	return map[string]helperFunc{
		helperRunCodex:       d.runCodexAppServer,
		helperRunClaude:      d.runClaudeCode,
		helperReadCodexID:    d.readCodexAccountID,
		helperReadClaudeAcct: d.readClaudeAccount,
	}
}

// becomeAgent demotes to the agent user when running as root; every
// runtime helper does this before touching anything.
func (d runtimeHelperDeps) becomeAgent() error {
	if d.euid() != 0 {
		return nil
	}
	if err := d.demote(); err != nil {
		return fmt.Errorf("demote to %s: %w", agentUser, err)
	}
	return nil
}

// runCodexAppServer is `hostd helper run-codex-app-server`: no arguments;
// it runs `codex app-server` with the managed overrides as the agent
// user, HOME and cwd the agent home, the proxy environment set.
func (d runtimeHelperDeps) runCodexAppServer(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) != 0 {
		return fmt.Errorf("%w: %s takes no arguments", errUsage, helperRunCodex)
	}
	if err := d.becomeAgent(); err != nil {
		return err
	}
	return d.runAgentCLI(ctx, agentrt.Codex, d.cfg.CodexBin, codex.AppServerArgs(), true, stdin, stdout, stderr)
}

// runClaudeCode is `hostd helper run-claude-code [ARGS]` with exactly one
// of these argument lists:
//
//	(none)                    a new turn (stream-json, fixed flags)
//	--resume UUID             a turn resuming a session
//	--session-id UUID         a new turn with a pre-assigned session id
//	auth status               print the login status JSON
//	auth login --claudeai     the Claude.ai login flow
//
// Anything else is refused.
func (d runtimeHelperDeps) runClaudeCode(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cliArgs, eofKills, err := claudeHelperArgs(args)
	if err != nil {
		return err
	}
	if err := d.becomeAgent(); err != nil {
		return err
	}
	if !eofKills {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, claudeAuthTimeout)
		defer cancel()
	}
	return d.runAgentCLI(ctx, agentrt.ClaudeCode, d.cfg.ClaudeBin, cliArgs, eofKills, stdin, stdout, stderr)
}

// claudeHelperArgs maps the helper's narrow argument contract to the CLI
// command line; eofKills says whether stdin EOF starts the kill grace.
func claudeHelperArgs(args []string) (cli []string, eofKills bool, err error) {
	bad := func() ([]string, bool, error) {
		return nil, false, fmt.Errorf("%w: %s accepts no arguments, --resume UUID, --session-id UUID, 'auth status' or 'auth login --claudeai'", errUsage, helperRunClaude)
	}
	switch {
	case len(args) == 0:
		return claude.TurnArgs(""), true, nil
	case len(args) == 2 && args[0] == "--resume" && claude.ValidSessionID(args[1]):
		return claude.TurnArgs(args[1]), true, nil
	case len(args) == 2 && args[0] == "--session-id" && claude.ValidSessionID(args[1]):
		return append(claude.TurnArgs(""), "--session-id", args[1]), true, nil
	case len(args) == 2 && args[0] == "auth" && args[1] == "status":
		return []string{"auth", "status"}, false, nil
	case len(args) == 3 && args[0] == "auth" && args[1] == "login" && args[2] == "--claudeai":
		return []string{"auth", "login", "--claudeai"}, false, nil
	}
	return bad()
}

// runAgentCLI runs one CLI in its own process group with the agent
// environment. stdin is copied through so that its end is seen here: for
// turn processes (eofKills) the CLI then gets eofGrace to exit before its
// group is killed — the admin user cannot signal the agent's processes,
// closing stdin is its kill order. ctx ending (sudo relays SIGTERM) kills
// the group at once.
func (d runtimeHelperDeps) runAgentCLI(ctx context.Context, rt agentrt.Type, bin string, args []string, eofKills bool, stdin io.Reader, stdout, stderr io.Writer) error {
	env, err := agentenv.Build(agentenv.Config{
		Home:       d.cfg.AgentHome,
		ProxyURL:   d.cfg.ProxyURL,
		CAFile:     d.cfg.CAFile,
		User:       agentUser,
		PathDirs:   append([]string{filepath.Dir(bin)}, d.cfg.PathDirs...),
		RunsAsRoot: os.Geteuid() == 0,
	}, rt)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = d.cfg.AgentHome
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	childIn, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("stdin pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	pgid := cmd.Process.Pid
	killGroup := func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(childIn, stdin)
		_ = childIn.Close()
		close(eof)
	}()
	var eofTimer <-chan time.Time
	eofCh := (<-chan struct{})(eof)
	for {
		select {
		case err := <-exited:
			killGroup() // tools the CLI left behind
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return fmt.Errorf("%s exited: %w", filepath.Base(bin), err)
			}
			return err
		case <-eofCh:
			eofCh = nil
			if eofKills {
				eofTimer = time.After(d.eofGrace)
			}
		case <-eofTimer:
			killGroup()
			eofTimer = nil
		case <-ctx.Done():
			killGroup()
			return fmt.Errorf("%s stopped: %w", filepath.Base(bin), <-exited)
		}
	}
}

// readCodexAccountID is `hostd helper read-codex-account-id`: no
// arguments; prints only the ChatGPT account id (one line).
func (d runtimeHelperDeps) readCodexAccountID(_ context.Context, args []string, _ io.Reader, stdout, _ io.Writer) error {
	if len(args) != 0 {
		return fmt.Errorf("%w: %s takes no arguments", errUsage, helperReadCodexID)
	}
	if err := d.becomeAgent(); err != nil {
		return err
	}
	id, err := accounts.CodexAccountID(d.cfg.AgentHome)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, id)
	return err
}

// readClaudeAccount is `hostd helper read-claude-account`: no arguments;
// prints one JSON object with account_uuid, organization_uuid, email and
// token_sha256 — never the token.
func (d runtimeHelperDeps) readClaudeAccount(_ context.Context, args []string, _ io.Reader, stdout, _ io.Writer) error {
	if len(args) != 0 {
		return fmt.Errorf("%w: %s takes no arguments", errUsage, helperReadClaudeAcct)
	}
	if err := d.becomeAgent(); err != nil {
		return err
	}
	acc, err := accounts.ClaudeAccount(d.cfg.AgentHome)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(supervisor.ClaudeAccountJSON{
		AccountUUID: acc.AccountID, OrganizationUUID: acc.OrganizationID, Email: acc.Email, TokenSHA256: acc.TokenSHA256,
	})
}
