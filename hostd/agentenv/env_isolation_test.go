package agentenv

import (
	"context"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

func testConfig(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	return Config{
		Home:     filepath.Join(dir, "agent-home"),
		ProxyURL: "http://127.0.0.1:7445",
		CAFile:   filepath.Join(dir, "proxy-ca.crt"),
		User:     "trustyclaw-agent",
		PathDirs: []string{"/opt/node/bin"},
	}
}

// A real child process started with the built environment sees none of
// hostd's own variables: not the admin password, not the machine-wide CA
// bundle, not an inherited proxy bypass.
func TestHostdSecretsNeverReachAgentProcess(t *testing.T) {
	t.Setenv("TRUSTYCLAW_ADMIN_PASSWORD", "hunter2-admin-secret")
	t.Setenv("OPENAI_API_KEY", "sk-hostd-own-key")
	t.Setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
	t.Setenv("NO_PROXY", "*")
	cfg := testConfig(t)
	env, err := Build(cfg, agentrt.ClaudeCode)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/env")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run env: %v", err)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	sort.Strings(got)
	for _, line := range got {
		if strings.Contains(line, "hunter2") || strings.Contains(line, "sk-hostd") || strings.HasPrefix(line, "TRUSTYCLAW_") {
			t.Errorf("hostd secret leaked into agent env: %q", line)
		}
	}
	if strings.Join(got, "\n") != strings.Join(env, "\n") {
		t.Errorf("child env differs from the built one:\n got %q\nwant %q", got, env)
	}
	want := map[string]string{
		"SSL_CERT_FILE":       cfg.CAFile,
		"NODE_EXTRA_CA_CERTS": cfg.CAFile,
		"NO_PROXY":            "",
		"https_proxy":         cfg.ProxyURL,
		"HOME":                cfg.Home,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
	}
	for k, v := range want {
		if !contains(got, k+"="+v) {
			t.Errorf("child env lacks %s=%q", k, v)
		}
	}
	for _, line := range got {
		if strings.HasPrefix(line, "PATH=") && !strings.HasPrefix(line, "PATH=/opt/node/bin:") {
			t.Errorf("PATH does not start with the node dir: %q", line)
		}
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func TestEveryProxyAndCAVariableIsSetForBothRuntimes(t *testing.T) {
	cfg := testConfig(t)
	for _, rt := range agentrt.Types {
		env, err := Build(cfg, rt)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range proxyVars {
			if !contains(env, v+"="+cfg.ProxyURL) {
				t.Errorf("%s: %s not set to the proxy", rt, v)
			}
		}
		for _, v := range caVars {
			if !contains(env, v+"="+cfg.CAFile) {
				t.Errorf("%s: %s not set to the proxy CA", rt, v)
			}
		}
		claudeOnly := contains(env, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1")
		if claudeOnly != (rt == agentrt.ClaudeCode) {
			t.Errorf("%s: CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC present=%v", rt, claudeOnly)
		}
	}
}

func TestIsSandboxOnlyForClaudeRunningAsRoot(t *testing.T) {
	cfg := testConfig(t)
	cfg.RunsAsRoot = true
	env, _ := Build(cfg, agentrt.ClaudeCode)
	if !contains(env, "IS_SANDBOX=1") {
		t.Error("claude as root: IS_SANDBOX=1 missing")
	}
	env, _ = Build(cfg, agentrt.Codex)
	if contains(env, "IS_SANDBOX=1") {
		t.Error("codex: IS_SANDBOX set")
	}
	cfg.RunsAsRoot = false
	env, _ = Build(cfg, agentrt.ClaudeCode)
	if contains(env, "IS_SANDBOX=1") {
		t.Error("claude as agent user: IS_SANDBOX set")
	}
}

func TestBuildRefusesMissingProxyOrRelativePaths(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"no proxy":      func(c *Config) { c.ProxyURL = "" },
		"relative home": func(c *Config) { c.Home = "agent-home" },
		"no CA":         func(c *Config) { c.CAFile = "" },
	} {
		cfg := testConfig(t)
		mut(&cfg)
		if _, err := Build(cfg, agentrt.Codex); err == nil {
			t.Errorf("%s: Build succeeded", name)
		}
	}
}

func TestAgentEnvAdditions(t *testing.T) {
	cases := []struct {
		in      []string
		wantErr string
	}{
		{[]string{"E2E_API_KEY=sk-test", "ANTHROPIC_BASE_URL=https://model.e2e.test"}, ""},
		{[]string{"EMPTY="}, ""},
		{[]string{"WITH_EQUALS=a=b"}, ""},
		{[]string{"NOEQUALS"}, "want NAME=VALUE"},
		{[]string{"1BAD=x"}, "name must match"},
		{[]string{"BAD-NAME=x"}, "name must match"},
		{[]string{"=x"}, "name must match"},
		{[]string{"HTTPS_PROXY=http://evil"}, "reserved"},
		{[]string{"https_proxy=http://evil"}, "reserved"},
		{[]string{"Https_Proxy=http://evil"}, "reserved"},
		{[]string{"NO_PROXY=*"}, "reserved"},
		{[]string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}, "reserved"},
		{[]string{"HOME=/root"}, "reserved"},
		{[]string{"NODE_TLS_REJECT_UNAUTHORIZED=0"}, "reserved"},
		{[]string{"TRUSTYCLAW_ADMIN_PASSWORD=x"}, "reserved"},
		{[]string{"trustyclaw_anything=x"}, "reserved"},
		{[]string{"A=1", "A=2"}, "given twice"},
		{[]string{"A=x\x00y"}, "NUL"},
	}
	for _, c := range cases {
		vars, err := ParseAdditions(c.in)
		if c.wantErr == "" {
			if err != nil {
				t.Errorf("%q: %v", c.in, err)
				continue
			}
			cfg := testConfig(t)
			cfg.Additions = vars
			env, err := Build(cfg, agentrt.Codex)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range c.in {
				if !contains(env, e) {
					t.Errorf("%q: built env lacks %q", c.in, e)
				}
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%q: err = %v, want %q", c.in, err, c.wantErr)
		}
	}
}

// A value that looks like a key is never echoed back in an error.
func TestAdditionErrorsDoNotEchoValues(t *testing.T) {
	_, err := ParseAdditions([]string{"sk-live-abcdef0123456789"})
	if err == nil || strings.Contains(err.Error(), "sk-live") {
		t.Fatalf("err = %v", err)
	}
	_, err = ParseAdditions([]string{"OPENAI_API_KEY=sk-live-x", "HTTPS_PROXY=sk-live-y"})
	if err == nil || strings.Contains(err.Error(), "sk-live") {
		t.Fatalf("err = %v", err)
	}
}
