package agentproc

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// A stand-in sudo: drops -n and execs the helper with its arguments.
func stubSudo(t *testing.T, dir string) string {
	p := filepath.Join(dir, "sudo")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n[ \"$1\" = -n ] || exit 9\nshift\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func script(t *testing.T, dir, name, body string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// The helper gets HelperArgs (never the direct-exec Args) and a minimal
// environment, never hostd's.
func TestHelperStarterPassesOnlyHelperArgs(t *testing.T) {
	t.Setenv("TRUSTYCLAW_ADMIN_PASSWORD", "not-for-helpers")
	dir := t.TempDir()
	s := HelperStarter{Sudo: stubSudo(t, dir), Helpers: map[agentrt.Type]string{
		agentrt.ClaudeCode: script(t, dir, "run-claude-code", "echo \"ARGS: $*\"; env\n"),
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := s.Start(ctx, Spec{Runtime: agentrt.ClaudeCode, Args: []string{"-p", "--verbose"}, HelperArgs: []string{"--resume", "x"}})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(p.Stdout)
	_ = p.ExitErr()
	if !strings.Contains(string(out), "ARGS: --resume x\n") || strings.Contains(string(out), "not-for-helpers") {
		t.Fatalf("helper saw:\n%s", out)
	}
	if _, err := s.Start(ctx, Spec{Runtime: agentrt.Codex}); err == nil {
		t.Error("started a runtime with no helper configured")
	}
}

// Kill closes stdin (the helper's kill order) and, if the helper does not
// end within the grace, signals the group itself.
func TestHelperStarterKillClosesStdinThenSignals(t *testing.T) {
	dir := t.TempDir()
	s := HelperStarter{Sudo: stubSudo(t, dir), KillGrace: 200 * time.Millisecond, Helpers: map[agentrt.Type]string{
		agentrt.Codex:      script(t, dir, "obedient", "cat >/dev/null\n"),
		agentrt.ClaudeCode: script(t, dir, "stubborn", "exec sleep 1000\n"),
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, rt := range agentrt.Types {
		p, err := s.Start(ctx, Spec{Runtime: rt})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := p.Kill(ctx); err != nil {
			t.Fatalf("%s: %v", rt, err)
		}
		took := time.Since(start)
		if rt == agentrt.Codex && took > 150*time.Millisecond {
			t.Errorf("obedient helper: Kill took %v, want it to end on stdin EOF", took)
		}
		if GroupAlive(p.Pid()) {
			t.Errorf("%s: group alive after Kill", rt)
		}
	}
}
