package policy

import (
	"strings"
	"testing"
)

func TestDecideEachCheckInOrder(t *testing.T) {
	c := mustCompile(t, fixturePolicy)
	pins := Pins{OpenAIAccountID: "acct-1"}
	cases := []struct {
		name     string
		r        Request
		wantStep int // 0 = allowed
		wantRule string
		reason   string // substring of Reason
		hint     string // exact Hint ("" = none expected)
	}{
		{"allowed exact with guard", req("GET", "api.github.com", "/repos/o/r/pulls"), 0, "api.github.com", "", ""},
		{"allowed second guard", req("HEAD", "api.github.com", "/rate_limit"), 0, "api.github.com", "", ""},
		{"allowed wildcard", req("POST", "a.b.example.com", "/x"), 0, "*.example.com", "", ""},
		{"exact beats wildcard", req("POST", "www.example.com", "/"), StepMethod, "www.example.com", "not in allow_http_methods", `add "POST" to allow_http_methods of "www.example.com"`},
		{"apex not matched by wildcard", req("GET", "example.com", "/"), StepRule, "", `no rule allows "example.com"`, `add "example.com" to allowed_network_access with "GET" in allow_http_methods`},

		{"scheme ftp", Request{Scheme: "ftp", Method: "GET", Host: "plain.example.org", Port: 21, HostHeader: "plain.example.org", Target: "/"}, StepSchemePort, "", "scheme", ""},
		{"https on 8443", Request{Scheme: "https", Method: "GET", Host: "plain.example.org", Port: 8443, HostHeader: "plain.example.org:8443", Target: "/"}, StepSchemePort, "", "port 8443", ""},
		{"http on 443", Request{Scheme: "http", Method: "GET", Host: "plain.example.org", Port: 443, HostHeader: "plain.example.org", Target: "/"}, StepSchemePort, "", "only 80", ""},
		{"http on 80", Request{Scheme: "http", Method: "GET", Host: "plain.example.org", Port: 80, HostHeader: "plain.example.org", Target: "/"}, 0, "plain.example.org", "", ""},
		{"ws on 80", Request{Scheme: "ws", Method: "GET", Host: "plain.example.org", Port: 80, HostHeader: "plain.example.org:80", Target: "/socket"}, 0, "plain.example.org", "", ""},
		{"wss on 443", Request{Scheme: "wss", Method: "GET", Host: "x.example.com", Port: 443, HostHeader: "x.example.com", Target: "/socket"}, 0, "*.example.com", "", ""},
		{"wss on 80", Request{Scheme: "wss", Method: "GET", Host: "x.example.com", Port: 80, HostHeader: "x.example.com", Target: "/"}, StepSchemePort, "", "only 443", ""},
		{"upper-case scheme is not normalised", Request{Scheme: "HTTPS", Method: "GET", Host: "x.example.com", Port: 443, HostHeader: "x.example.com", Target: "/"}, StepSchemePort, "", "scheme", ""},

		{"IPv4 target", req("GET", "93.184.216.34", "/"), StepTargetHost, "", "IP-literal", "use the host name instead of an address"},
		{"metadata address", req("GET", "169.254.169.254", "/latest/meta-data"), StepTargetHost, "", "IP-literal", "use the host name instead of an address"},
		{"IPv6 target", req("GET", "[::1]", "/"), StepTargetHost, "", "IP-literal", "use the host name instead of an address"},
		{"IPv4-mapped IPv6", req("GET", "::ffff:127.0.0.1", "/"), StepTargetHost, "", "IP-literal", "use the host name instead of an address"},
		{"decimal-dotted short form", req("GET", "127.1", "/"), StepTargetHost, "", "IP-literal", "use the host name instead of an address"},
		{"garbage host", req("GET", "exa mple.com", "/"), StepTargetHost, "", "invalid target host", ""},
		{"empty host", req("GET", "", "/"), StepTargetHost, "", "invalid target host", ""},

		{"no rule", req("GET", "evil.test", "/"), StepRule, "", `no rule allows "evil.test"`, `add "evil.test" to allowed_network_access with "GET" in allow_http_methods`},
		{"closed domain", req("GET", "closed.example.net", "/"), StepRule, "closed.example.net", "allows no methods", `add "GET" to allow_http_methods of "closed.example.net"`},
		{"no rule, odd method gives no method hint", req("OPTIONS", "evil.test", "/"), StepRule, "", "no rule", `add "evil.test" to allowed_network_access`},

		{"method not listed", req("DELETE", "x.example.com", "/"), StepMethod, "*.example.com", "not in allow_http_methods", `add "DELETE" to allow_http_methods of "*.example.com"`},
		{"method never allowed", req("TRACE", "x.example.com", "/"), StepMethod, "*.example.com", "never allowed", ""},
		{"CONNECT as inner method", req("CONNECT", "x.example.com", "/"), StepMethod, "*.example.com", "never allowed", ""},
		{"lower-case method", req("get", "x.example.com", "/"), StepMethod, "*.example.com", "never allowed", ""},

		{"guard mismatch", req("GET", "api.github.com", "/user"), StepPathGuard, "api.github.com", "no path guard", `add a path_guards pattern to "api.github.com" that fully matches this request target`},
		{"guard is a full match, not a prefix", req("GET", "api.github.com", "/rate_limit/extra"), StepPathGuard, "api.github.com", "no path guard", `add a path_guards pattern to "api.github.com" that fully matches this request target`},
		{"guard is a full match, not a substring", req("GET", "api.github.com", "/x/repos/o/r"), StepPathGuard, "api.github.com", "no path guard", `add a path_guards pattern to "api.github.com" that fully matches this request target`},
		{"guard sees the query", req("GET", "search.example.net", "/search?q=abc"), 0, "search.example.net", "", ""},
		{"guard rejects other query", req("GET", "search.example.net", "/search?q=abc&x=1"), StepPathGuard, "search.example.net", "no path guard", `add a path_guards pattern to "search.example.net" that fully matches this request target`},
		{"query cannot satisfy a path-only guard", req("GET", "api.github.com", "/rate_limit?x=1"), StepPathGuard, "api.github.com", "no path guard", `add a path_guards pattern to "api.github.com" that fully matches this request target`},

		{"openai allowed", req("POST", "api.openai.com", "/v1/responses", "chatgpt-account-id", "acct-1"), 0, "managed:openai/api.openai.com", "", ""},
		{"openai GET not in bundle", req("GET", "api.openai.com", "/v1/models", "chatgpt-account-id", "acct-1"), StepMethod, "managed:openai/api.openai.com", "managed openai bundle does not allow GET", ""},
		{"openai other subdomain", req("GET", "files.openai.com", "/"), StepRule, "", "no rule", ""},
		{"auth.openai.com needs no account", req("GET", "auth.openai.com", "/oauth/authorize"), 0, "managed:openai/auth.openai.com", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := c.Decide(tc.r, pins)
			if tc.wantStep == 0 {
				if !d.Allow || d.Step != 0 || d.Reason != "" {
					t.Fatalf("want allowed, got %+v", d)
				}
			} else if d.Allow || d.Step != tc.wantStep {
				t.Fatalf("want denied at step %d, got %+v", tc.wantStep, d)
			}
			if d.Rule != tc.wantRule {
				t.Errorf("rule = %q, want %q", d.Rule, tc.wantRule)
			}
			if !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("reason = %q, want it to contain %q", d.Reason, tc.reason)
			}
			if d.Hint != tc.hint {
				t.Errorf("hint = %q, want %q", d.Hint, tc.hint)
			}
		})
	}
}

func TestDecideWithoutPolicyDeniesEverything(t *testing.T) {
	var c *Compiled
	d := c.Decide(req("GET", "x.example.com", "/"), Pins{})
	if d.Allow || d.Step != StepPolicy || !strings.Contains(d.Reason, "no valid network policy") {
		t.Fatalf("got %+v", d)
	}
	if d := c.DecideConnect("x.example.com", 443); d.Allow || d.Step != StepPolicy {
		t.Fatalf("connect got %+v", d)
	}
	if c.Policy() != nil || c.Fingerprint() != "" {
		t.Fatal("nil Compiled has a policy")
	}
}

func TestEmptyPolicyDeniesEverything(t *testing.T) {
	c, err := Compile(Empty())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"example.com", "api.openai.com", "api.anthropic.com", "chatgpt.com"} {
		if d := c.Decide(req("GET", h, "/"), Pins{}); d.Allow || d.Step != StepRule {
			t.Errorf("%s: %+v", h, d)
		}
	}
	d := c.Decide(req("POST", "api.openai.com", "/v1/responses"), Pins{})
	if d.Hint != "set managed_ai_provider_network_access.openai to true" {
		t.Errorf("hint for a provider host while the provider is off: %q", d.Hint)
	}
	d = c.Decide(req("POST", "api.anthropic.com", "/v1/messages"), Pins{})
	if d.Hint != "set managed_ai_provider_network_access.claude to true" {
		t.Errorf("hint for a provider host while the provider is off: %q", d.Hint)
	}
}

func TestDecideConnect(t *testing.T) {
	c := mustCompile(t, fixturePolicy)
	cases := []struct {
		host     string
		port     int
		wantStep int
		rule     string
		ws       bool
	}{
		{"api.github.com", 443, 0, "api.github.com", false},
		{"API.GitHub.com.", 443, 0, "api.github.com", false},
		{"deep.sub.example.com", 443, 0, "*.example.com", false},
		{"api.openai.com", 443, 0, "managed:openai/api.openai.com", true},
		{"api.github.com", 80, StepSchemePort, "", false},
		{"api.github.com", 22, StepSchemePort, "", false},
		{"10.0.0.1", 443, StepTargetHost, "", false},
		{"evil.test", 443, StepRule, "", false},
		{"closed.example.net", 443, StepRule, "closed.example.net", false},
	}
	for _, tc := range cases {
		d := c.DecideConnect(tc.host, tc.port)
		if (tc.wantStep == 0) != d.Allow || d.Step != tc.wantStep || d.Rule != tc.rule || d.WebSearchGuard != tc.ws {
			t.Errorf("DecideConnect(%q, %d) = %+v, want step %d rule %q ws %v", tc.host, tc.port, d, tc.wantStep, tc.rule, tc.ws)
		}
	}
	if d := c.DecideConnect("evil.test", 443); d.Hint != `add "evil.test" to allowed_network_access with "GET" in allow_http_methods` {
		t.Errorf("hint = %q", d.Hint)
	}
}

func TestDecisionHostIsNormalised(t *testing.T) {
	c := mustCompile(t, fixturePolicy)
	r := req("GET", "API.GitHub.COM.", "/rate_limit")
	r.HostHeader = "api.github.com"
	d := c.Decide(r, Pins{})
	if !d.Allow || d.Host != "api.github.com" {
		t.Fatalf("got %+v", d)
	}
}

func TestCompileFingerprintIsStableAndSensitive(t *testing.T) {
	a := mustCompile(t, fixturePolicy)
	b := mustCompile(t, fixturePolicy)
	if a.Fingerprint() == "" || a.Fingerprint() != b.Fingerprint() {
		t.Fatalf("fingerprints differ for equal policies: %q %q", a.Fingerprint(), b.Fingerprint())
	}
	c := mustCompile(t, `{"allowed_network_access":{}}`)
	if c.Fingerprint() == a.Fingerprint() {
		t.Fatal("different policies share a fingerprint")
	}
	if a.Policy() == nil || len(a.Policy().Allowed) != 6 {
		t.Fatalf("Policy() = %+v", a.Policy())
	}
}
