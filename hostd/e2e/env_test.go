package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/internal/fakemodel"
)

// Secrets in hostd's own environment.
var hostSecrets = map[string]string{
	"AWS_SECRET_ACCESS_KEY": "e2e-aws-secret-do-not-leak",
	"GITHUB_TOKEN":          "ghp_e2eHostTokenDoNotLeak",
	"OPENAI_API_KEY":        "sk-host-key-do-not-leak",
}

// No secret of hostd's environment reaches an agent process: read
// /proc/<pid>/environ of every process under hostd while a real turn
// runs. The --agent-env additions and the proxy/CA variables are there.
func TestAgentProcessesGetNoHostSecrets(t *testing.T) {
	forEach(t, bothRTs, func(t *testing.T, rt runtime) {
		hold := newGate()
		defer hold.open()
		var hostEnv []string
		for k, v := range hostSecrets {
			hostEnv = append(hostEnv, k+"="+v)
		}
		h := start(t, config{
			hostEnv:  hostEnv,
			agentEnv: []string{"E2E_MARKER=visible-to-agent"},
			script: func(r fakemodel.Request) fakemodel.Reply {
				if fakemodel.LastUserText(r.Body) == "inspect me" {
					hold.wait(60 * time.Second)
				}
				return echo(r)
			},
		})
		h.open(rt)
		id := h.create(rt, "env", "inspect me")
		h.waitTask(id, "running")
		h.waitModelRequests(1)

		// hostd itself has the secrets (else the test proves nothing).
		hostdEnv := environ(t, h.hostd.PID())
		if hostdEnv["TRUSTYCLAW_ADMIN_PASSWORD"] != h.hostd.Password || hostdEnv["GITHUB_TOKEN"] == "" {
			t.Fatalf("hostd's own environment lacks the test secrets: %v", keys(hostdEnv))
		}
		secretValues := []string{h.hostd.Password}
		for _, v := range hostSecrets {
			secretValues = append(secretValues, v)
		}

		agents := 0
		for _, p := range descendants(h.hostd.PID()) {
			env := environ(t, p.pid)
			if env == nil {
				continue // exited meanwhile
			}
			if !strings.Contains(p.cmdline, rt.cli) {
				t.Errorf("unexpected process under hostd: %d %s", p.pid, p.cmdline)
				continue
			}
			agents++
			for k, v := range env {
				for _, s := range secretValues {
					if strings.Contains(v, s) {
						t.Errorf("pid %d (%s): %s carries a hostd secret", p.pid, p.cmdline, k)
					}
				}
			}
			for _, k := range []string{"TRUSTYCLAW_ADMIN_PASSWORD", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "GORACE"} {
				if _, ok := env[k]; ok {
					t.Errorf("pid %d: %s is set", p.pid, k)
				}
			}
			home := filepath.Join(h.state, "agent-home")
			ca := filepath.Join(h.state, "proxy-ca.crt")
			want := map[string]string{
				"E2E_MARKER":           "visible-to-agent",
				"E2E_API_KEY":          "sk-e2e-test",
				"HTTPS_PROXY":          "http://" + h.hostd.Proxy,
				"HTTP_PROXY":           "http://" + h.hostd.Proxy,
				"https_proxy":          "http://" + h.hostd.Proxy,
				"ALL_PROXY":            "http://" + h.hostd.Proxy,
				"NO_PROXY":             "",
				"HOME":                 home,
				"NODE_EXTRA_CA_CERTS":  ca,
				"SSL_CERT_FILE":        ca,
				"CODEX_CA_CERTIFICATE": ca,
			}
			if rt == claudeRT {
				want["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
				want["ANTHROPIC_BASE_URL"] = "https://" + modelHost
			}
			for k, v := range want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("pid %d (%s): %s=%q, want %q", p.pid, p.cmdline, k, got, v)
				}
			}
			if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", p.pid)); err == nil && cwd != home {
				t.Errorf("pid %d works in %s, want the agent home", p.pid, cwd)
			}
		}
		if agents == 0 {
			t.Fatalf("no %s process found under hostd (pid %d)", rt.cli, h.hostd.PID())
		}
		t.Logf("%d agent processes checked", agents)
		hold.open()
		h.waitTask(id, "completed")
	})
}

// environ reads /proc/<pid>/environ (nil if the process is gone).
func environ(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatalf("read environ of %d: %v", pid, err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(data), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
