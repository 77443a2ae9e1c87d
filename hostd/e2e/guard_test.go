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

// claudeCredentials is Claude Code's .credentials.json after a Claude.ai
// login, with a test-made token (never a real one).
func claudeCredentials(t *testing.T, token string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"claudeAiOauth": map[string]any{
		"accessToken": token, "refreshToken": "rt-e2e-test",
		"expiresAt": time.Now().Add(24 * time.Hour).UnixMilli(),
		"scopes":    []string{"user:inference", "user:profile"}, "subscriptionType": "pro",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The Anthropic account guard with the real Claude Code under a Claude.ai
// login: hostd pins the SHA-256 of the agent home's OAuth token, a turn
// on api.anthropic.com with that token passes; after the agent's token
// changes, its turn is denied (and logged) and nothing with the other
// token reaches the upstream.
func TestAnthropicAccountGuardPinsTheLoggedInToken(t *testing.T) {
	t.Parallel()
	requireCLI(t, claudeRT)
	const pinned, other = "sk-ant-oat01-e2e-pinned-token", "sk-ant-oat01-e2e-other-token"
	h := start(t, config{
		baseEnv: []string{"CLAUDE_CODE_MAX_RETRIES=0"}, // no API key, no base URL: the CLI talks to api.anthropic.com with its login
		files: map[string]string{
			".claude/.credentials.json": claudeCredentials(t, pinned),
			".claude.json":              `{"oauthAccount":{"accountUuid":"uuid-e2e","organizationUuid":"org-e2e","emailAddress":"e2e@example.test"}}`,
		},
	})
	h.setPolicy(map[string]bool{"claude": true}) // api.anthropic.com comes from the managed bundle
	h.waitRuntime(claudeRT, "active")

	var accounts struct {
		Accounts []struct {
			AgentRuntime   string `json:"agent_runtime"`
			AccountID      string `json:"account_id"`
			OrganizationID string `json:"organization_id"`
		} `json:"accounts"`
	}
	h.do(http.MethodGet, "/v1/agent-runtime/account", nil, &accounts)
	ok := false
	for _, a := range accounts.Accounts {
		if a.AgentRuntime == "claude_code" {
			ok = a.AccountID == "uuid-e2e" && a.OrganizationID == "org-e2e"
		}
	}
	if !ok {
		t.Errorf("account route: %+v", accounts)
	}

	turn := h.run(claudeRT, "guarded", "hello as the pinned login")
	if turn.OutputMessage != "reply to: hello as the pinned login" {
		t.Errorf("turn under the pinned login: %+v", turn)
	}
	reqs := h.model.Requests()
	if len(reqs) == 0 {
		t.Fatal("no model request reached the fake api.anthropic.com")
	}
	for _, r := range reqs {
		if got := r.Header.Get("Authorization"); got != "Bearer "+pinned {
			t.Errorf("%s reached upstream with another credential", r.Path)
		}
	}
	for _, e := range h.networkEvents() {
		if e.Decision != "allowed" {
			t.Errorf("denied under the pinned login: %+v", e)
		}
	}

	// Without the token the model route is refused (asked through the API).
	var check struct {
		Decision string `json:"decision"`
	}
	h.do(http.MethodPost, "/v1/network/policy/check", map[string]string{"method": "POST", "url": "https://api.anthropic.com/v1/messages"}, &check)
	if check.Decision != "denied" {
		t.Errorf("check without a token: %+v", check)
	}

	// The agent's login changes under hostd: its next turn is refused.
	credFile := filepath.Join(h.state, "agent-home", ".claude", ".credentials.json")
	if err := os.WriteFile(credFile, []byte(claudeCredentials(t, other)), 0o600); err != nil {
		t.Fatal(err)
	}
	nBefore, mBefore := len(h.networkEvents()), len(h.model.Requests())
	t0 := time.Now()
	failed := h.waitTask(h.create(claudeRT, "guarded-2", "hello with another login"), "failed")
	t.Logf("turn under another login failed after %v: %s", time.Since(t0), failed.ErrorMessage)
	denied := false
	for _, e := range h.networkEvents()[nBefore:] {
		if e.Host == "api.anthropic.com" && e.Decision == "denied" {
			denied = true
			t.Logf("denial: %s %s: %s", e.Method, e.Path, e.Reason)
		}
	}
	if !denied {
		t.Errorf("no denial for api.anthropic.com: %+v", h.networkEvents()[nBefore:])
	}
	if n := len(h.model.Requests()); n != mBefore {
		t.Errorf("%d model requests reached upstream under the other login", n-mBefore)
	}
}
