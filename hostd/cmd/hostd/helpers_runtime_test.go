package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeCLI writes a script that prints its arguments and environment,
// then behaves per mode: "exit" ends at once, "cat" exits on stdin EOF,
// "stubborn" ignores stdin EOF.
func fakeCLI(t *testing.T, dir, name, mode string) string {
	t.Helper()
	body := "#!/bin/sh\necho \"ARGS: $*\"\necho \"PWD: $(pwd)\"\nenv | sort\n"
	switch mode {
	case "cat":
		body += "cat >/dev/null\n"
	case "stubborn":
		body += "trap '' TERM\nwhile :; do sleep 1; done\n"
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func testRuntimeDeps(t *testing.T, mode string) runtimeHelperDeps {
	dir := t.TempDir()
	home := filepath.Join(dir, "agent-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return runtimeHelperDeps{
		cfg: runtimeHostConfig{
			AgentHome: home, ProxyURL: "http://127.0.0.1:7445", CAFile: "/etc/trustyclaw/ca.pem",
			CodexBin: fakeCLI(t, dir, "codex", mode), ClaudeBin: fakeCLI(t, dir, "claude", mode),
		},
		euid:     func() int { return 1000 },
		demote:   func() error { return errors.New("must not demote when not root") },
		eofGrace: 200 * time.Millisecond,
	}
}

func runHelperFn(t *testing.T, fn helperFunc, args []string, stdin io.Reader) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	err := fn(ctx, args, stdin, &out, &errb)
	return out.String(), err
}

// run-codex-app-server runs codex with exactly the managed overrides, in
// the agent home, with the proxy environment and none of hostd's own.
func TestRunCodexAppServerFixedCommandAndEnv(t *testing.T) {
	t.Setenv("TRUSTYCLAW_ADMIN_PASSWORD", "never-in-agent-env")
	d := testRuntimeDeps(t, "exit")
	out, err := runHelperFn(t, d.runCodexAppServer, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ARGS: app-server -c features.plugins=false -c analytics.enabled=false -c features.apps=false -c features.unbounded_connection_retries=false -c web_search=\"cached\"",
		"PWD: " + d.cfg.AgentHome, "HOME=" + d.cfg.AgentHome, "HTTPS_PROXY=http://127.0.0.1:7445", "CODEX_CA_CERTIFICATE=/etc/trustyclaw/ca.pem",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "never-in-agent-env") {
		t.Error("hostd's environment leaked into the agent")
	}
	if _, err := runHelperFn(t, d.runCodexAppServer, []string{"-c", "sandbox_mode=x"}, nil); !errors.Is(err, errUsage) {
		t.Errorf("extra args: %v", err)
	}
}

func TestRunClaudeCodeArgumentContract(t *testing.T) {
	d := testRuntimeDeps(t, "exit")
	const sid = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	ok := map[string]string{
		"":                      "ARGS: -p --input-format stream-json --output-format stream-json --verbose --strict-mcp-config --permission-mode bypassPermissions",
		"--resume " + sid:       "--resume " + sid,
		"--session-id " + sid:   "--session-id " + sid,
		"auth status":           "ARGS: auth status",
		"auth login --claudeai": "ARGS: auth login --claudeai",
	}
	for args, want := range ok {
		out, err := runHelperFn(t, d.runClaudeCode, strings.Fields(args), nil)
		if err != nil || !strings.Contains(out, want) || !strings.Contains(out, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1") {
			t.Errorf("%q: err %v, output:\n%s", args, err, out)
		}
	}
	for _, args := range []string{
		"--resume not-a-uuid", "--resume", "--model opus", "--dangerously-skip-permissions",
		"--resume " + sid + " --mcp-config x.json", "auth logout", "auth login --console", "-p",
	} {
		if _, err := runHelperFn(t, d.runClaudeCode, strings.Fields(args), nil); !errors.Is(err, errUsage) {
			t.Errorf("%q accepted: %v", args, err)
		}
	}
}

// Closing the helper's stdin is the admin service's kill order: a CLI
// that does not exit by itself is killed after the grace.
func TestRunAgentCLIStdinEOFKillsStubbornCLI(t *testing.T) {
	d := testRuntimeDeps(t, "stubborn")
	start := time.Now()
	_, err := runHelperFn(t, d.runCodexAppServer, nil, strings.NewReader(""))
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("err = %v, want killed", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

func TestRunAgentCLIExitsWithCLIOnEOF(t *testing.T) {
	d := testRuntimeDeps(t, "cat")
	if _, err := runHelperFn(t, d.runClaudeCode, nil, strings.NewReader(`{"type":"user"}`+"\n")); err != nil {
		t.Fatal(err)
	}
}

func TestRuntimeHelpersDemoteWhenRoot(t *testing.T) {
	d := testRuntimeDeps(t, "exit")
	d.euid = func() int { return 0 }
	d.demote = func() error { return errors.New("demote called") }
	for name, fn := range map[string]helperFunc{"codex": d.runCodexAppServer, "claude": d.runClaudeCode, "id": d.readCodexAccountID, "acct": d.readClaudeAccount} {
		if _, err := runHelperFn(t, fn, nil, nil); err == nil || !strings.Contains(err.Error(), "demote called") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReadAccountHelpers(t *testing.T) {
	d := testRuntimeDeps(t, "exit")
	write := func(rel, body string) {
		p := filepath.Join(d.cfg.AgentHome, rel)
		_ = os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runHelperFn(t, d.readCodexAccountID, nil, nil); err == nil {
		t.Error("no auth.json: succeeded")
	}
	write(".codex/auth.json", `{"tokens":{"account_id":"acc-42","access_token":"secret-token"}}`)
	out, err := runHelperFn(t, d.readCodexAccountID, nil, nil)
	if err != nil || out != "acc-42\n" {
		t.Fatalf("%q %v", out, err)
	}
	write(".claude/.credentials.json", `{"claudeAiOauth":{"accessToken":"sk-ant-oat-secret"}}`)
	write(".claude.json", `{"oauthAccount":{"accountUuid":"u1","organizationUuid":"o1","emailAddress":"e@x"}}`)
	out, err = runHelperFn(t, d.readClaudeAccount, nil, nil)
	if err != nil || strings.Contains(out, "sk-ant") {
		t.Fatalf("%q %v", out, err)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil || got["account_uuid"] != "u1" || got["organization_uuid"] != "o1" || len(got["token_sha256"]) != 64 {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := runHelperFn(t, d.readClaudeAccount, []string{"--home", "/root"}, nil); !errors.Is(err, errUsage) {
		t.Errorf("args accepted: %v", err)
	}
}
