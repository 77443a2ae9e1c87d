package policy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// FuzzParse: no panic; whatever parses re-validates, compiles, and survives
// a canonical round trip unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		fixturePolicy,
		`{"allowed_network_access":{}}`,
		`{"allowed_network_access":{"*.example.com":{"allow_http_methods":["GET"]},"*.a.example.com":{"allow_http_methods":[]}}}`,
		`{"allowed_network_access":{"Example.com":{"allow_http_methods":["GET"]},"example.com.":{"allow_http_methods":["GET"]}}}`,
		`{"allowed_network_access":{"x.com":{"allow_http_methods":["GET"],"path_guards":["(?=a)"]}}}`,
		`{"allowed_network_access":{"bücher.example":{"allow_http_methods":[]}}}`,
		`{"managed_ai_provider_network_access":{"openai":true,"claude":false},"allowed_network_access":{"10.0.0.1":{"allow_http_methods":[]}}}`,
		`{"allowed_network_access":{"a.com":{"allow_http_methods":[null]}}}`,
		`[`, `null`, `{"allowed_network_access":{}}x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Parse(raw)
		if err != nil {
			if _, ok := err.(*ValidationError); !ok {
				t.Fatalf("error %v is %T, not *ValidationError", err, err)
			}
			return
		}
		if err := Validate(p); err != nil {
			t.Fatalf("parsed policy does not validate: %v", err)
		}
		c, err := Compile(p)
		if err != nil {
			t.Fatalf("parsed policy does not compile: %v", err)
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Parse(out)
		if err != nil {
			t.Fatalf("canonical form %s does not parse: %v", out, err)
		}
		c2, err := Compile(q)
		if err != nil || c2.Fingerprint() != c.Fingerprint() {
			t.Fatalf("round trip changed the policy: %v", err)
		}
	})
}

// FuzzNormalizeHost: normal forms are fixed points, never hold upper case,
// a trailing dot or non-ASCII, and match themselves only.
func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"Example.COM.", "a..b", "*.example.com", "127.0.0.1", "[::1]", "bücher.de", "xn--bcher-kva.de", "a_b-c.d", "0x7f.1", strings.Repeat("a.", 130)} {
		f.Add(s)
	}
	c := mustCompile(f, `{"allowed_network_access":{"*.example.com":{"allow_http_methods":["GET"]},"exact.test.org":{"allow_http_methods":["GET"]}}}`)
	f.Fuzz(func(t *testing.T, h string) {
		n, err := NormalizeHost(h)
		if err != nil {
			return
		}
		if n == "" || strings.HasSuffix(n, ".") || strings.ToLower(n) != n || !isASCII(n) || len(n) > maxHostLen {
			t.Fatalf("NormalizeHost(%q) = %q is not normal", h, n)
		}
		if m, err := NormalizeHost(n); err != nil || m != n {
			t.Fatalf("not idempotent: %q -> %q, %v", n, m, err)
		}
		r := c.lookup(n)
		switch {
		case n == "exact.test.org":
			if r == nil || r.name != "exact.test.org" {
				t.Fatalf("exact host missed")
			}
		case strings.HasSuffix(n, ".example.com"):
			if r == nil || r.name != "*.example.com" {
				t.Fatalf("%q missed the wildcard", n)
			}
		default:
			if r != nil {
				t.Fatalf("%q matched %q", n, r.name)
			}
		}
	})
}

// FuzzDecide: no panic; every denial names a step and a reason; allowed
// requests satisfy the basic invariants whatever the input.
func FuzzDecide(f *testing.F) {
	f.Add("https", "GET", "api.github.com", 443, "api.github.com", "/repos/o/r", "", "")
	f.Add("https", "POST", "api.openai.com", 443, "api.openai.com:443", "/v1/responses", "chatgpt-account-id", "acct")
	f.Add("https", "POST", "api.anthropic.com", 443, "api.anthropic.com", "/v1/messages", "Authorization", "Bearer tok")
	f.Add("http", "GET", "127.0.0.1", 80, "127.0.0.1", "/", "", "")
	f.Add("wss", "GET", "x.example.com", 443, "evil.test", "/a/../b", "", "")
	c := mustCompile(f, fixturePolicy)
	pins := Pins{OpenAIAccountID: "acct", ClaudeTokenSHA256: sha("tok")}
	f.Fuzz(func(t *testing.T, scheme, method, host string, port int, hostHeader, target, hk, hv string) {
		h := http.Header{}
		if hk != "" {
			h[hk] = []string{hv}
		}
		r := Request{Scheme: scheme, Method: method, Host: host, Port: port, HostHeader: hostHeader, Target: target, Header: h}
		d := c.Decide(r, pins)
		if !d.Allow {
			if d.Step < StepPolicy || d.Step > StepAnthropicAccount || d.Reason == "" || d.WebSearchGuard {
				t.Fatalf("bad denial %+v", d)
			}
			return
		}
		if d.Step != 0 || d.Reason != "" || d.Rule == "" {
			t.Fatalf("bad allow %+v", d)
		}
		n, err := NormalizeHost(host)
		if err != nil || n != d.Host {
			t.Fatalf("allowed an invalid host %q (%v)", host, err)
		}
		if !strings.HasPrefix(target, "/") {
			t.Fatalf("allowed a non-origin target %q", target)
		}
		if (scheme == "https" || scheme == "wss") && port != 443 || (scheme == "http" || scheme == "ws") && port != 80 {
			t.Fatalf("allowed %s on port %d", scheme, port)
		}
		if cd := c.DecideConnect(host, 443); (scheme == "https" || scheme == "wss") && !cd.Allow {
			t.Fatalf("inner request allowed but CONNECT denied: %+v", cd)
		}
	})
}

// FuzzCheckWebSearch: no panic; a clean verdict has no reason; wrapping a
// denied document in another object or array keeps it denied.
func FuzzCheckWebSearch(f *testing.F) {
	for _, s := range []string{
		`{"tools":[{"type":"web_search_preview"}]}`,
		`{"tools":[{"type":"web_search","external_web_access":false}]}`,
		`{"tools":[{"type":"web\u005fsearch"}]}`,
		`{"type":"response.create","response":{"tools":[{"type":"web_search"}]}}`,
		`{"input":"web_search"}`,
		`{"tools":[{"type":"web_search_preview"}`,
		`[[[[`, ``, `"\u0077"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ok, reason := CheckWebSearch(body)
		if ok != (reason == "") {
			t.Fatalf("ok=%v reason=%q", ok, reason)
		}
		if ok || !json.Valid(body) {
			return
		}
		wrapped := append(append([]byte(`{"tools":[`), body...), []byte(`]}`)...)
		if ok2, _ := CheckWebSearch(wrapped); ok2 {
			t.Fatalf("wrapping hid a denied document: %s", body)
		}
	})
}

// FuzzWebSearchScannerMatchesReference: the fast scanner and the
// encoding/json Token walker agree on every valid document, and the
// scanner accepts exactly what encoding/json calls valid.
func FuzzWebSearchScannerMatchesReference(f *testing.F) {
	for _, s := range []string{
		`{"tools":[{"type":"web_search_preview"}]}`,
		`{"tools":[{"type":"web_search","external_web_access":false}]}`,
		`{"tools":[{"type":"web_search","external_web_access":[false]}]}`,
		`{"tools":[{"TYPE":"Web_Search","External_Web_Access":false,"type":"x"}]}`,
		`{"a":"\ud83d\ude00\u005f\"\\\/\b\f\n\r\t","type":"web\u005fsearch"}`,
		`[1,-0.5e+3,true,false,null,"",{},[]]`,
		`{"type":"web_search_call"}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `[1,]`, `{"a":1,}`, `"\x"`, `tru`, `{"a" 1}`,
		`{} {"type":"web_search_preview"}`, ` `, `{"type":"web_search"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gerr := walkForWebSearch(body)
		valid := json.Valid(body)
		if valid && gerr != nil {
			t.Fatalf("scanner rejected valid JSON %q: %v", body, gerr)
		}
		if !valid {
			// A single invalid document may still be a valid stream of
			// several values; only check that a whole-document accept
			// is a stream the Token walker also accepts.
			if gerr == nil && got == "" {
				if _, rerr := walkForWebSearchReference(body); rerr != nil {
					t.Fatalf("scanner accepted %q, reference says %v", body, rerr)
				}
			}
			return
		}
		want, rerr := walkForWebSearchReference(body)
		if rerr != nil {
			t.Fatalf("reference rejected valid JSON %q: %v", body, rerr)
		}
		if (got == "") != (want == "") {
			t.Fatalf("verdicts differ on %q: scanner %q, reference %q", body, got, want)
		}
	})
}
