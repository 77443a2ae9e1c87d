package setup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

func TestDevRefusesReservedAgentEnv(t *testing.T) {
	_, err := Dev(DevConfig{StateDir: t.TempDir(), ProxyURL: "http://127.0.0.1:1", CAFile: "/x/ca.pem", AgentEnv: []string{"HTTPS_PROXY=http://evil"}, Log: logging.Nop()})
	if err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("err %v", err)
	}
}

func TestDevReportsMissingCLIs(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "codex")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir) // no claude here
	rts, err := Dev(DevConfig{StateDir: dir, ProxyURL: "http://127.0.0.1:1", CAFile: filepath.Join(dir, "ca.pem"), CodexBin: bin, Log: logging.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if rts.Adapters[agentrt.Codex] == nil || rts.Adapters[agentrt.ClaudeCode] != nil {
		t.Fatalf("adapters %v", rts.Adapters)
	}
	if l := rts.List(); len(l) != 1 || l[0].Type() != agentrt.Codex {
		t.Errorf("list %v", l)
	}
	if len(rts.Missing) != 1 || !strings.Contains(rts.Missing[0], "claude") {
		t.Errorf("missing %q", rts.Missing)
	}
	if fi, err := os.Stat(rts.AgentHome); err != nil || !fi.IsDir() || rts.AgentHome != filepath.Join(dir, "agent-home") {
		t.Errorf("agent home %q %v", rts.AgentHome, err)
	}
	if _, err := Dev(DevConfig{StateDir: dir, ProxyURL: "http://127.0.0.1:1", CAFile: "ca.pem", CodexBin: dir, Log: logging.Nop()}); err != nil {
		t.Fatal(err)
	}
}
