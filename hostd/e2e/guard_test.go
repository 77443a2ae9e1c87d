package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chatgptConfig is an operator config.toml for a ChatGPT-logged-in Codex
// on the built-in OpenAI provider: its traffic goes to chatgpt.com, a
// managed host behind the OpenAI account guard, which every harness maps
// to the fake model with --dev-upstream.
const chatgptConfig = `model = "gpt-5-codex"
`

// chatgptAuth is a Codex auth.json as a ChatGPT login leaves it, for
// account id: test-made unsigned tokens (nothing checks signatures
// offline), fresh so that Codex does not try to refresh them.
func chatgptAuth(t *testing.T, account string) string {
	t.Helper()
	seg := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	claims := map[string]any{
		"email": "e2e@example.test",
		"exp":   time.Now().Add(24 * time.Hour).Unix(),
		"https://api.openai.com/auth": map[string]any{
			"chatgpt_account_id": account, "chatgpt_plan_type": "pro", "chatgpt_user_id": "user-e2e",
		},
	}
	jwt := seg(map[string]string{"alg": "none", "typ": "JWT"}) + "." + seg(claims) + "." + seg("test")
	b, err := json.Marshal(map[string]any{
		"OPENAI_API_KEY": nil,
		"tokens":         map[string]any{"id_token": jwt, "access_token": jwt, "refresh_token": "rt-e2e-test", "account_id": account},
		"last_refresh":   time.Now().UTC().Format(time.RFC3339),
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The OpenAI account guard with the real Codex under ChatGPT auth: hostd
// pins the account id of the agent home's auth.json, Codex's own traffic
// to chatgpt.com (status read, a whole turn) carries that id and passes;
// after the agent switches to another account, its traffic is denied (and
// logged) before anything reaches the upstream, and its turn fails.
func TestOpenAIAccountGuardPinsTheLoggedInAccount(t *testing.T) {
	t.Parallel()
	requireCLI(t, codexRT)
	const pinned, other = "acct-e2e-pinned", "acct-e2e-other"
	h := start(t, config{codexConfig: chatgptConfig, files: map[string]string{".codex/auth.json": chatgptAuth(t, pinned)}})
	t0 := time.Now()
	h.setPolicy(map[string]bool{"openai": true}) // chatgpt.com comes from the managed bundle
	h.waitRuntime(codexRT, "active")
	t.Logf("active after %v", time.Since(t0))

	var accounts struct {
		Accounts []struct {
			AgentRuntime string `json:"agent_runtime"`
			AccountID    string `json:"account_id"`
		} `json:"accounts"`
	}
	h.do(http.MethodGet, "/v1/agent-runtime/account", nil, &accounts)
	found := false
	for _, a := range accounts.Accounts {
		if a.AgentRuntime == "codex" {
			found = a.AccountID == pinned
		}
	}
	if !found {
		t.Errorf("account route: %+v", accounts)
	}

	// Codex's status read went to chatgpt.com with the pinned id, and the
	// guard let it through.
	allowed := false
	for _, e := range h.networkEvents() {
		if e.Host == "chatgpt.com" && e.Decision == "allowed" && e.Path == "/backend-api/wham/accounts/check" {
			allowed = true
		}
		if e.Decision == "denied" {
			t.Errorf("denied while the pinned account was in use: %+v", e)
		}
	}
	if !allowed {
		t.Errorf("no allowed chatgpt.com workspace check: %+v", h.networkEvents())
	}
	seen := len(h.model.Requests())
	if seen == 0 {
		t.Fatal("nothing reached the fake chatgpt.com")
	}
	for _, r := range h.model.Requests() {
		if got := r.Header.Values("ChatGPT-Account-ID"); len(got) != 1 || got[0] != pinned {
			t.Errorf("%s reached upstream with account ids %q", r.Path, got)
		}
	}

	// A request without the account header is refused too (what the
	// proxy would decide, asked through the API).
	var check struct {
		Decision string `json:"decision"`
		Reason   string `json:"reason"`
	}
	h.do(http.MethodPost, "/v1/network/policy/check", map[string]string{"method": "POST", "url": "https://chatgpt.com/backend-api/codex/responses"}, &check)
	if check.Decision != "denied" || !strings.Contains(strings.ToLower(check.Reason), "account") {
		t.Errorf("check without the account header: %+v", check)
	}

	// A turn under the pinned account passes both OpenAI guards (account
	// id, live web search) and completes. Dev mode asks Codex for no web
	// search (setup.DevCodexOverrides): under danger-full-access Codex
	// would otherwise turn "cached" into a live web_search tool, which the
	// proxy refuses.
	t0 = time.Now()
	turn := h.run(codexRT, "guarded", "hello as the pinned account")
	t.Logf("turn under the pinned account: %v", time.Since(t0))
	if turn.OutputMessage != "reply to: hello as the pinned account" {
		t.Errorf("turn under the pinned account: %+v", turn)
	}
	sawTurn := false
	for _, r := range h.model.Requests() {
		if r.Path != "/backend-api/codex/responses" || r.Body == "" {
			continue
		}
		sawTurn = true
		var body struct {
			Tools []struct {
				Type     string `json:"type"`
				External *bool  `json:"external_web_access"`
			} `json:"tools"`
		}
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			t.Fatalf("model request body: %v", err)
		}
		for _, tool := range body.Tools {
			if tool.Type == "web_search_preview" || tool.Type == "web_search" && (tool.External == nil || *tool.External) {
				t.Errorf("a live web search tool reached upstream: %+v", tool)
			}
		}
	}
	if !sawTurn {
		t.Error("the turn's model request never reached the fake chatgpt.com")
	}

	// The agent logs itself into another account (its auth.json changes
	// under hostd): a turn on a new thread (a new app-server, which reads
	// auth.json afresh) is refused by the guard.
	authFile := filepath.Join(h.state, "agent-home", ".codex", "auth.json")
	if err := os.WriteFile(authFile, []byte(chatgptAuth(t, other)), 0o600); err != nil {
		t.Fatal(err)
	}
	nBefore := len(h.networkEvents())
	t0 = time.Now()
	failed := h.waitTask(h.create(codexRT, "guarded-2", "hello from another account"), "failed")
	t.Logf("turn under another account failed after %v: %s", time.Since(t0), failed.ErrorMessage)
	denied := false
	for _, e := range h.networkEvents()[nBefore:] {
		if e.Host == "chatgpt.com" && e.Decision == "denied" && strings.Contains(strings.ToLower(e.Reason), "account") {
			denied = true
		}
	}
	if !denied {
		t.Errorf("no account-guard denial for chatgpt.com: %+v", h.networkEvents()[nBefore:])
	}
	for _, r := range h.model.Requests() {
		for _, v := range r.Header.Values("ChatGPT-Account-ID") {
			if v != pinned {
				t.Errorf("a request with account %q reached upstream: %s", v, r.Path)
			}
		}
	}
}
