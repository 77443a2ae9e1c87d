package policy

import (
	"net/http"
	"slices"
	"testing"
)

// The bundle tables of network-policy.md, checked host by host and method
// by method, with the provider on and off.
func TestBundlesMatchTheSpecTables(t *testing.T) {
	type row struct {
		provider string
		host     string
		methods  []string
	}
	rows := []row{
		{ProviderOpenAI, "api.openai.com", []string{"POST"}},
		{ProviderOpenAI, "auth.openai.com", []string{"GET", "POST"}},
		{ProviderOpenAI, "chatgpt.com", []string{"GET", "POST"}},
		{ProviderClaude, "api.anthropic.com", []string{"GET", "HEAD", "POST"}},
		{ProviderClaude, "platform.claude.com", []string{"GET", "POST"}},
	}
	on := mustCompile(t, `{"managed_ai_provider_network_access":{"openai":true,"claude":true},"allowed_network_access":{}}`)
	off := mustCompile(t, `{"managed_ai_provider_network_access":{"openai":false},"allowed_network_access":{}}`)
	token := "tok"
	pins := Pins{OpenAIAccountID: "acct", ClaudeTokenSHA256: sha(token)}
	hdr := http.Header{"Chatgpt-Account-Id": {"acct"}, "Authorization": {"Bearer " + token}}
	for _, r := range rows {
		for _, m := range httpMethods() {
			target := "/v1/oauth/x"
			rq := req(m, r.host, target)
			rq.Header = hdr
			d := on.Decide(rq, pins)
			if want := slices.Contains(r.methods, m); d.Allow != want {
				t.Errorf("%s %s with provider on: allow=%v want %v (%+v)", m, r.host, d.Allow, want, d)
			}
			if d.Allow && d.Rule != "managed:"+r.provider+"/"+r.host {
				t.Errorf("%s %s: rule %q", m, r.host, d.Rule)
			}
			if d := off.Decide(rq, pins); d.Allow || d.Step != StepRule {
				t.Errorf("%s %s with provider off: %+v", m, r.host, d)
			}
		}
		if !slices.Contains(ManagedHosts(r.provider), r.host) {
			t.Errorf("ManagedHosts(%s) lacks %s", r.provider, r.host)
		}
	}
	if ManagedHosts("gemini") != nil {
		t.Error("unknown provider has hosts")
	}
	for _, d := range []string{"openai.com", "chatgpt.com", "anthropic.com", "claude.ai", "claude.com"} {
		if !slices.Contains(ReservedDomains(), d) {
			t.Errorf("ReservedDomains lacks %s", d)
		}
	}
}

// Every bundle host must lie under its provider's reserved domains, so an
// operator key can never shadow or widen a bundle rule.
func TestBundleHostsAreReserved(t *testing.T) {
	for _, b := range bundleTable() {
		for _, h := range b.hosts {
			if got := reservedFor(h.host); got != b.provider {
				t.Errorf("%s is reserved for %q, want %q", h.host, got, b.provider)
			}
			if n, err := NormalizeHost(h.host); err != nil || n != h.host {
				t.Errorf("bundle host %q is not normal: %q %v", h.host, n, err)
			}
		}
	}
}
