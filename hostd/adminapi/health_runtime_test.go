package adminapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/hostinfo"
)

type fixedHostInfo struct{ s hostinfo.Snapshot }

func (f fixedHostInfo) Snapshot() (hostinfo.Snapshot, error) { return f.s, nil }

func TestHealthShape(t *testing.T) {
	snap := hostinfo.Snapshot{
		CPUPercent: 12.5,
		Memory:     hostinfo.Usage{UsedBytes: 980000000, TotalBytes: 2147483648},
		Swap:       hostinfo.Swap{AllocatedBytes: 6442450944, UsedBytes: 536870912},
		Mounts: []hostinfo.MountUsage{
			{Name: "root", Usage: hostinfo.Usage{UsedBytes: 6000000000, TotalBytes: 17179869184}},
			{Name: "agent", Usage: hostinfo.Usage{UsedBytes: 1, TotalBytes: 2}},
		},
	}
	h := newHarness(t, func(c *Config) { c.HostInfo = fixedHostInfo{snap} })
	id := h.createTask("codex", "t", "x")
	h.tasks.Start(id)
	r := h.do("GET", "/v1/health", "")
	mustStatus(t, r, http.StatusOK)
	want := `{"status":"ok","agent_name":"test-agent","agent_runtime":{"runtimes":[` +
		`{"type":"codex","status":"active","active_task_ids":["` + id + `"]},` +
		`{"type":"claude_code","status":"deactivated","active_task_ids":[]}]},` +
		`"network_controls":{"status":"active"},` +
		`"host_runtime":{"cpu":{"usage_percent":12.5},"memory":{"used_bytes":980000000,"total_bytes":2147483648},` +
		`"filesystem":{"used_bytes":6000000000,"total_bytes":17179869184,"mounts":{"agent":{"used_bytes":1,"total_bytes":2},` +
		`"root":{"used_bytes":6000000000,"total_bytes":17179869184}}},` +
		`"swap":{"allocated_bytes":6442450944,"used_bytes":536870912}}}`
	if got := strings.TrimSpace(string(r.body)); got != want {
		t.Fatalf("health\n got %s\nwant %s", got, want)
	}
}

func TestRuntimeErrorDegradesHealth(t *testing.T) {
	h := newHarness(t)
	h.sup.set(agentrt.ClaudeCode, agentrt.StatusError, "claude auth status failed: exit 1")
	m := h.do("GET", "/v1/health", "").json(t)
	if m["status"] != "degraded" {
		t.Fatalf("health %v", m)
	}
	r := h.do("GET", "/v1/agent-runtime/status", "")
	var st runtimesJSON
	_ = json.Unmarshal(r.body, &st)
	if len(st.Runtimes) != 2 || st.Runtimes[1].ErrorMessage != "claude auth status failed: exit 1" || st.Runtimes[0].ErrorMessage != "" {
		t.Fatalf("status: %s", r.body)
	}
	// awaiting_login is a normal state.
	h.sup.set(agentrt.ClaudeCode, agentrt.StatusAwaitingLogin, "")
	if m := h.do("GET", "/v1/health", "").json(t); m["status"] != "ok" {
		t.Fatalf("awaiting_login degraded health: %v", m)
	}
}

func TestAccountsShape(t *testing.T) {
	h := newHarness(t)
	h.sup.accounts = []agentrt.AccountInfo{
		{Type: agentrt.Codex, Status: agentrt.StatusActive, Account: agentrt.Account{AccountID: "acct_1", Email: "op@example.com", TokenSHA256: "deadbeef"}},
		{Type: agentrt.ClaudeCode, Status: agentrt.StatusDeactivated},
	}
	r := h.do("GET", "/v1/agent-runtime/account", "")
	want := `{"accounts":[{"agent_runtime":"codex","provider":"openai","status":"active","account_id":"acct_1","email":"op@example.com"},` +
		`{"agent_runtime":"claude_code","provider":"claude","status":"deactivated"}]}`
	if got := strings.TrimSpace(string(r.body)); got != want {
		t.Fatalf("accounts\n got %s\nwant %s", got, want)
	}
	if strings.Contains(string(r.body), "deadbeef") {
		t.Fatal("token hash exposed")
	}
}

func TestLoginRoutesNeedAwaitingLogin(t *testing.T) {
	h := newHarness(t)
	// codex is active, claude deactivated: both 409.
	for _, p := range []string{"/v1/agent-runtime/codex-oauth-login", "/v1/agent-runtime/claude-oauth-login"} {
		r := h.do("POST", p, "")
		mustStatus(t, r, http.StatusConflict)
		if msg := r.errMsg(t); !strings.Contains(msg, "awaiting_login") {
			t.Fatalf("message %q", msg)
		}
		mustStatus(t, h.do("GET", p, ""), http.StatusConflict)
	}
	mustStatus(t, h.do("POST", "/v1/agent-runtime/claude-oauth-login/complete", `{"code":"abc"}`), http.StatusConflict)
	if h.sup.calls != 0 {
		t.Fatalf("the supervisor was asked %d times although no runtime awaits a login", h.sup.calls)
	}

	h.sup.set(agentrt.Codex, agentrt.StatusAwaitingLogin, "")
	r := h.do("POST", "/v1/agent-runtime/codex-oauth-login", "")
	mustStatus(t, r, http.StatusOK)
	want := `{"status":"awaiting_login","device_code":"ABCD-EFGH","login_url":"https://auth.openai.com/codex/device","expires_at":"2026-03-04T05:21:07.000Z"}`
	if got := strings.TrimSpace(string(r.body)); got != want {
		t.Fatalf("codex login %s", got)
	}
	if got := strings.TrimSpace(string(h.do("GET", "/v1/agent-runtime/codex-oauth-login", "").body)); got != want {
		t.Fatalf("current codex login %s", got)
	}

	h.sup.set(agentrt.ClaudeCode, agentrt.StatusAwaitingLogin, "")
	r = h.do("POST", "/v1/agent-runtime/claude-oauth-login", "{}")
	mustStatus(t, r, http.StatusOK)
	if m := r.json(t); m["status"] != "awaiting_code" || m["device_code"] != nil {
		t.Fatalf("claude login %v", m)
	}
	mustStatus(t, h.do("POST", "/v1/agent-runtime/claude-oauth-login", `{"x":1}`), http.StatusBadRequest)
}

// The code is typed into the waiting CLI's stdin: a newline would let a
// caller feed it further input.
func TestClaudeLoginCodeCannotInjectInput(t *testing.T) {
	h := newHarness(t)
	h.sup.set(agentrt.ClaudeCode, agentrt.StatusAwaitingLogin, "")
	mustStatus(t, h.do("POST", "/v1/agent-runtime/claude-oauth-login", ""), http.StatusOK)
	for _, bad := range []string{`{"code":"abc\ny"}`, `{"code":"abc\r"}`, `{"code":"a\u0000b"}`, `{"code":""}`, `{"code":"   "}`, `{"code":1}`, `{}`} {
		r := h.do("POST", "/v1/agent-runtime/claude-oauth-login/complete", bad)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, r.status)
		}
	}
	r := h.do("POST", "/v1/agent-runtime/claude-oauth-login/complete", `{"code":"  abc#def  "}`)
	mustStatus(t, r, http.StatusOK)
	if len(h.sup.codes) != 1 || h.sup.codes[0] != "abc#def" {
		t.Fatalf("codes handed to the CLI: %q", h.sup.codes)
	}
}

func TestLoginFailureIs500WithTheDetailOnlyInTheLog(t *testing.T) {
	h := newHarness(t)
	err := h.srv.Config.Handler.(*api).loginError(agentrt.ClaudeCode, errors.New("claude exited: token=sk-secret"))
	status, msg, _ := classify(err, "r-1")
	if status != http.StatusInternalServerError || strings.Contains(msg, "sk-secret") || !strings.Contains(msg, "claude_code login failed") {
		t.Fatalf("%d %q", status, msg)
	}
	if !strings.Contains(err.Error(), "sk-secret") {
		t.Fatal("the cause is lost for the log")
	}
	h.sup.set(agentrt.Codex, agentrt.StatusAwaitingLogin, "")
	r := h.do("GET", "/v1/agent-runtime/codex-oauth-login", "") // awaiting, but no login started
	mustStatus(t, r, http.StatusConflict)
}
