package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestAnthropicAccountGuard(t *testing.T) {
	c := mustCompile(t, `{"managed_ai_provider_network_access":{"claude":true},"allowed_network_access":{}}`)
	const token = "sk-ant-oat01-secret"
	pinned := Pins{ClaudeTokenSHA256: sha(token)}
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	cases := []struct {
		name   string
		method string
		target string
		header http.Header
		pins   Pins
		allow  bool
		reason string
	}{
		{"hello without credentials, unpinned", "GET", "/api/hello", nil, Pins{}, true, ""},
		{"hello HEAD probe", "HEAD", "/api/hello", nil, Pins{}, true, ""},
		{"hello with query", "GET", "/api/hello?x=1", nil, pinned, true, ""},
		{"hello POST is not the probe", "POST", "/api/hello", nil, pinned, false, "missing Authorization"},
		{"hello look-alike path", "GET", "/api/hello/../v1/messages", nil, Pins{}, false, "missing Authorization"},

		{"bootstrap read before pin", "GET", "/api/oauth/profile", bearer("any"), Pins{}, true, ""},
		{"bootstrap roles before pin", "GET", "/api/oauth/claude_cli/roles", bearer("any"), Pins{}, true, ""},
		{"bootstrap first token date", "GET", "/api/organization/claude_code_first_token_date", bearer("any"), Pins{}, true, ""},
		{"bootstrap policy limits", "GET", "/api/claude_code/policy_limits", bearer("any"), Pins{}, true, ""},
		{"bootstrap settings with query", "GET", "/api/claude_code/settings?v=2", bearer("any"), Pins{}, true, ""},
		{"bootstrap without bearer", "GET", "/api/oauth/profile", nil, Pins{}, false, "missing Authorization"},
		{"bootstrap with basic auth", "GET", "/api/oauth/profile", http.Header{"Authorization": {"Basic eDp5"}}, Pins{}, false, "not a Bearer"},
		{"bootstrap with empty bearer", "GET", "/api/oauth/profile", http.Header{"Authorization": {"Bearer "}}, Pins{}, false, "not a Bearer"},
		{"bootstrap POST before pin", "POST", "/api/oauth/profile", bearer("any"), Pins{}, false, "no Claude account is pinned"},
		{"model traffic before pin", "POST", "/v1/messages", bearer("any"), Pins{}, false, "no Claude account is pinned"},
		{"bootstrap sub-path before pin", "GET", "/api/oauth/profile/x", bearer("any"), Pins{}, false, "no Claude account is pinned"},

		{"model traffic with pinned token", "POST", "/v1/messages", bearer(token), pinned, true, ""},
		{"bearer scheme case-insensitive", "POST", "/v1/messages", http.Header{"Authorization": {"bearer " + token}}, pinned, true, ""},
		{"pin given in upper-case hex", "POST", "/v1/messages", bearer(token), Pins{ClaudeTokenSHA256: strings.ToUpper(sha(token))}, true, ""},
		{"bootstrap after pin needs the pinned token", "GET", "/api/oauth/profile", bearer("other"), pinned, false, "not the pinned Claude account"},
		{"model traffic with other token", "POST", "/v1/messages", bearer("sk-ant-other"), pinned, false, "not the pinned Claude account"},
		{"model traffic without token", "POST", "/v1/messages", nil, pinned, false, "missing Authorization"},
		{"two Authorization headers", "POST", "/v1/messages", http.Header{"Authorization": {"Bearer " + token, "Bearer other"}}, pinned, false, "more than one"},
		{"second Authorization in non-canonical key", "POST", "/v1/messages", http.Header{"Authorization": {"Bearer " + token}, "authorization": {"Bearer other"}}, pinned, false, "more than one"},
		{"x-api-key beside a pinned bearer", "POST", "/v1/messages", http.Header{"Authorization": {"Bearer " + token}, "X-Api-Key": {"sk-ant-api-other"}}, pinned, false, "x-api-key"},
		{"x-api-key alone", "POST", "/v1/messages", http.Header{"X-Api-Key": {"sk-ant-api"}}, pinned, false, "x-api-key"},
		{"hash of token given as token", "POST", "/v1/messages", bearer(sha(token)), pinned, false, "not the pinned"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := req(tc.method, "api.anthropic.com", tc.target)
			r.Header = tc.header
			d := c.Decide(r, tc.pins)
			if d.Allow != tc.allow {
				t.Fatalf("allow = %v, want %v: %+v", d.Allow, tc.allow, d)
			}
			if d.Rule != "managed:claude/api.anthropic.com" {
				t.Fatalf("rule = %q", d.Rule)
			}
			if !tc.allow {
				if d.Step != StepAnthropicAccount || !strings.Contains(d.Reason, tc.reason) {
					t.Fatalf("got step %d reason %q, want step %d reason %q", d.Step, d.Reason, StepAnthropicAccount, tc.reason)
				}
				if strings.Contains(d.Reason+d.Hint, sha(token)) || strings.Contains(d.Reason+d.Hint, token) {
					t.Fatalf("pin or token leaked: %+v", d)
				}
			}
			if d.WebSearchGuard {
				t.Fatal("the Anthropic host does not carry the OpenAI web-search guard")
			}
		})
	}
}

// Claude Code probes HEAD /api/hello at start-up (notes/real-cli-offline.md);
// without HEAD in the bundle that probe would be denied at the method check.
func TestClaudeBundleAllowsHelloHeadProbe(t *testing.T) {
	c := mustCompile(t, `{"managed_ai_provider_network_access":{"claude":true},"allowed_network_access":{}}`)
	if d := c.Decide(req("HEAD", "api.anthropic.com", "/api/hello"), Pins{}); !d.Allow {
		t.Fatalf("HEAD /api/hello denied: %+v", d)
	}
	if d := c.Decide(req("HEAD", "api.anthropic.com", "/v1/messages"), Pins{}); d.Allow || d.Step != StepAnthropicAccount {
		t.Fatalf("HEAD elsewhere without credentials: %+v", d)
	}
}

func TestPlatformClaudeOAuthPathGuard(t *testing.T) {
	c := mustCompile(t, `{"managed_ai_provider_network_access":{"claude":true},"allowed_network_access":{}}`)
	cases := map[string]bool{
		"/v1/oauth":             true,
		"/v1/oauth/token":       true,
		"/v1/oauth/token?x=y":   true,
		"/v1/oauthx":            false,
		"/v1/messages":          false,
		"/v1/oauth/../messages": false,
		"/":                     false,
	}
	for target, want := range cases {
		d := c.Decide(req("POST", "platform.claude.com", target), Pins{})
		if d.Allow != want {
			t.Errorf("%s: allow=%v want %v (%+v)", target, d.Allow, want, d)
		}
		if !want && (d.Step != StepPathGuard || d.Hint != "") {
			t.Errorf("%s: managed guard denial should be step 7 without a hint: %+v", target, d)
		}
	}
}
