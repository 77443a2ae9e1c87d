package policy

import (
	"net/http"
	"strings"
	"testing"
)

func TestOpenAIAccountGuard(t *testing.T) {
	c := mustCompile(t, `{"managed_ai_provider_network_access":{"openai":true},"allowed_network_access":{}}`)
	const pin = "acct-1234"
	cases := []struct {
		name   string
		host   string
		method string
		header http.Header
		pins   Pins
		allow  bool
		reason string
	}{
		{"pinned and matching", "api.openai.com", "POST", http.Header{"Chatgpt-Account-Id": {pin}}, Pins{OpenAIAccountID: pin}, true, ""},
		{"chatgpt.com GET matching", "chatgpt.com", "GET", http.Header{"Chatgpt-Account-Id": {pin}}, Pins{OpenAIAccountID: pin}, true, ""},
		{"no pin yet", "api.openai.com", "POST", http.Header{"Chatgpt-Account-Id": {pin}}, Pins{}, false, "no OpenAI account is pinned"},
		{"header missing", "api.openai.com", "POST", http.Header{}, Pins{OpenAIAccountID: pin}, false, "missing chatgpt-account-id"},
		{"nil header", "chatgpt.com", "POST", nil, Pins{OpenAIAccountID: pin}, false, "missing"},
		{"other account", "api.openai.com", "POST", http.Header{"Chatgpt-Account-Id": {"acct-evil"}}, Pins{OpenAIAccountID: pin}, false, "does not match"},
		{"second copy differs", "chatgpt.com", "POST", http.Header{"Chatgpt-Account-Id": {pin, "acct-evil"}}, Pins{OpenAIAccountID: pin}, false, "does not match"},
		{"non-canonical key hides a copy", "chatgpt.com", "POST", http.Header{"Chatgpt-Account-Id": {pin}, "chatgpt-account-id": {"acct-evil"}}, Pins{OpenAIAccountID: pin}, false, "does not match"},
		{"comma list in one copy", "chatgpt.com", "POST", http.Header{"Chatgpt-Account-Id": {pin + ",acct-evil"}}, Pins{OpenAIAccountID: pin}, false, "does not match"},
		{"prefix of the pin", "chatgpt.com", "POST", http.Header{"Chatgpt-Account-Id": {"acct-12"}}, Pins{OpenAIAccountID: pin}, false, "does not match"},
		{"auth.openai.com is unguarded", "auth.openai.com", "POST", http.Header{}, Pins{}, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := req(tc.method, tc.host, "/backend-api/codex/responses")
			r.Header = tc.header
			d := c.Decide(r, tc.pins)
			if d.Allow != tc.allow {
				t.Fatalf("allow = %v, want %v: %+v", d.Allow, tc.allow, d)
			}
			if !tc.allow {
				if d.Step != StepOpenAIAccount || !strings.Contains(d.Reason, tc.reason) {
					t.Fatalf("got step %d reason %q, want step %d reason %q", d.Step, d.Reason, StepOpenAIAccount, tc.reason)
				}
				if strings.Contains(d.Reason+d.Hint, pin) {
					t.Fatalf("the pin leaked into %+v", d)
				}
				if d.WebSearchGuard {
					t.Fatal("a denial must not carry WebSearchGuard")
				}
			}
			if tc.allow && (tc.host != "auth.openai.com") != d.WebSearchGuard {
				t.Fatalf("WebSearchGuard = %v on %s", d.WebSearchGuard, tc.host)
			}
		})
	}
}
