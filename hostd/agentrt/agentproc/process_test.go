package agentproc

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentenv"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

func shStarter(t *testing.T) DevStarter {
	home := filepath.Join(t.TempDir(), "home")
	return DevStarter{
		Bins: map[agentrt.Type]string{agentrt.Codex: "/bin/sh", agentrt.ClaudeCode: "/usr/bin/env"},
		Env: func(rt agentrt.Type) ([]string, error) {
			return agentenv.Build(agentenv.Config{Home: home, ProxyURL: "http://127.0.0.1:1", CAFile: "/nonexistent/ca.pem"}, rt)
		},
		Dir: home,
	}
}

// Kill takes down the whole process group, grandchildren included, and
// reaps the process.
func TestKillEndsWholeProcessGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := shStarter(t).Start(ctx, Spec{Runtime: agentrt.Codex, Args: []string{"-c", "sleep 100 & sleep 100 & wait"}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the shell fork its children
	if !GroupAlive(p.Pid()) {
		t.Fatal("group not alive after start")
	}
	if err := p.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for GroupAlive(p.Pid()) {
		if time.Now().After(deadline) {
			t.Fatal("process group still alive after Kill")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.Kill(ctx); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
}

// Stop lets a process that exits on stdin EOF end by itself.
func TestStopClosesStdinAndWaits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := shStarter(t).Start(ctx, Spec{Runtime: agentrt.Codex, Args: []string{"-c", "cat >/dev/null; exit 3"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.ExitErr(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("exit err = %v, want exit status 3 (it exited by itself)", err)
	}
}

// The dev starter hands the child exactly the built environment.
func TestDevStarterPassesOnlyBuiltEnv(t *testing.T) {
	t.Setenv("TRUSTYCLAW_ADMIN_PASSWORD", "do-not-leak")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := shStarter(t).Start(ctx, Spec{Runtime: agentrt.ClaudeCode})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(p.Stdout)
	_ = p.ExitErr()
	if strings.Contains(string(out), "do-not-leak") || !strings.Contains(string(out), "HTTPS_PROXY=http://127.0.0.1:1") {
		t.Fatalf("child env:\n%s", out)
	}
}

// A CLI that exits leaving a tool running with its stdout: the leftover
// is killed with the group, so the output reaches EOF at once instead of
// being held open by the orphan.
func TestExitKillsLeftoverChildHoldingStdout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := shStarter(t).Start(ctx, Spec{Runtime: agentrt.Codex, Args: []string{"-c", "sleep 1000 & echo done"}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := io.ReadAll(p.Stdout)
	if err != nil || strings.TrimSpace(string(out)) != "done" {
		t.Fatalf("out %q err %v", out, err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("stdout held open for %v by the leftover child", took)
	}
	<-p.Done()
}
