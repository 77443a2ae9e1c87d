package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRejectsInvalidPolicies(t *testing.T) {
	rule := `{"allow_http_methods":["GET"]}`
	one := func(key string) string {
		return `{"allowed_network_access":{` + quote(key) + `:` + rule + `}}`
	}
	cases := []struct {
		name      string
		doc       string
		wantField string
		wantMsg   string
	}{
		{"empty document", ``, "policy", "empty document"},
		{"not an object", `[]`, "policy", "must be a JSON object"},
		{"null", `null`, "policy", "must be a JSON object"},
		{"trailing data", `{"allowed_network_access":{}} {}`, "policy", "unexpected data"},
		{"truncated", `{"allowed_network_access":{`, "", "invalid JSON"},
		{"missing allowed", `{}`, "allowed_network_access", "required"},
		{"allowed null", `{"allowed_network_access":null}`, "allowed_network_access", "must be a JSON object"},
		{"allowed array", `{"allowed_network_access":[]}`, "allowed_network_access", "must be a JSON object"},
		{"unknown top-level field", `{"allowed_network_access":{},"extra":1}`, "extra", "unknown field"},
		{"field name in other case", `{"Allowed_Network_Access":{}}`, "Allowed_Network_Access", "unknown field"},
		{"duplicate top-level key", `{"allowed_network_access":{},"allowed_network_access":{}}`, "allowed_network_access", "duplicate key"},
		{"unknown provider", `{"managed_ai_provider_network_access":{"gemini":true},"allowed_network_access":{}}`, "managed_ai_provider_network_access.gemini", "unknown field"},
		{"provider not boolean", `{"managed_ai_provider_network_access":{"openai":"yes"},"allowed_network_access":{}}`, "managed_ai_provider_network_access.openai", "true or false"},
		{"providers null", `{"managed_ai_provider_network_access":null,"allowed_network_access":{}}`, "managed_ai_provider_network_access", "must be a JSON object"},
		{"duplicate provider key", `{"managed_ai_provider_network_access":{"openai":true,"openai":false},"allowed_network_access":{}}`, "managed_ai_provider_network_access.openai", "duplicate key"},
		{"invalid UTF-8", "{\"allowed_network_access\":{\"\xff\":{}}}", "policy", "UTF-8"},

		{"IPv4 literal", one("10.0.0.1"), `allowed_network_access["10.0.0.1"]`, "IP literals"},
		{"IPv6 literal", one("::1"), `allowed_network_access["::1"]`, "IP literals"},
		{"bracketed IPv6", one("[::1]"), `allowed_network_access["[::1]"]`, "IP literals"},
		{"numeric last label", one("example.123"), `allowed_network_access["example.123"]`, "IP literals"},
		{"hex last label", one("foo.0x7f"), `allowed_network_access["foo.0x7f"]`, "IP literals"},
		{"empty key", one(""), `allowed_network_access[""]`, "empty"},
		{"empty label", one("a..example.com"), `allowed_network_access["a..example.com"]`, "empty label"},
		{"leading dot", one(".example.com"), `allowed_network_access[".example.com"]`, "empty label"},
		{"two trailing dots", one("example.com.."), `allowed_network_access["example.com.."]`, "empty label"},
		{"embedded glob", one("a*.example.com"), `allowed_network_access["a*.example.com"]`, `"*" is allowed only`},
		{"glob in middle", one("api.*.example.com"), `allowed_network_access["api.*.example.com"]`, `"*" is allowed only`},
		{"double wildcard", one("*.*.example.com"), `allowed_network_access["*.*.example.com"]`, `"*" is allowed only`},
		{"bare star", one("*"), `allowed_network_access["*"]`, `"*" is allowed only`},
		{"star without dot", one("*example.com"), `allowed_network_access["*example.com"]`, `"*" is allowed only`},
		{"regex key", one(`^api\.example\.com$`), `allowed_network_access["^api\\.example\\.com$"]`, "regular expressions"},
		{"regex alternation", one("(a|b).example.com"), `allowed_network_access["(a|b).example.com"]`, "regular expressions"},
		{"port", one("example.com:443"), `allowed_network_access["example.com:443"]`, `ports are not allowed; the proxy allows only 80 (http) and 443 (https, wss): use "example.com"`},
		{"scheme", one("https://Example.com/"), `allowed_network_access["https://Example.com/"]`, `schemes are not allowed; use the host name only: use "example.com"`},
		{"path", one("example.com/api"), `allowed_network_access["example.com/api"]`, `use path_guards: use "example.com"`},
		{"non-ASCII", one("bücher.example"), `allowed_network_access["bücher.example"]`, `use "xn--bcher-kva.example"`},
		{"bad punycode", one("xn--zz-.example.com"), `allowed_network_access["xn--zz-.example.com"]`, "label starts or ends"},
		{"invalid punycode", one("xn--ab1!.example.com"), `allowed_network_access["xn--ab1!.example.com"]`, "invalid character"},
		{"space", one("exa mple.com"), `allowed_network_access["exa mple.com"]`, "whitespace"},
		{"underscore fine but hyphen edge", one("-api.example.com"), `allowed_network_access["-api.example.com"]`, "starts or ends with '-'"},
		{"label too long", one(strings.Repeat("a", 64) + ".com"), `allowed_network_access["` + strings.Repeat("a", 64) + `.com"]`, "label longer than 63"},
		{"name too long", one(strings.Repeat("abcdefghi.", 26) + "com"), "", "longer than 253"},
		{"single label", one("localhost"), `allowed_network_access["localhost"]`, "single-label"},
		{"wildcard over TLD", one("*.com"), `allowed_network_access["*.com"]`, "top-level domain"},
		{"wildcard over public suffix", one("*.co.uk"), `allowed_network_access["*.co.uk"]`, "public suffix"},
		{"reserved exact", one("openai.com"), `allowed_network_access["openai.com"]`, "managed_ai_provider_network_access.openai"},
		{"reserved subdomain", one("api.openai.com"), `allowed_network_access["api.openai.com"]`, "openai provider bundle"},
		{"reserved wildcard", one("*.chatgpt.com"), `allowed_network_access["*.chatgpt.com"]`, "openai provider bundle"},
		{"reserved upper case", one("API.Anthropic.COM"), `allowed_network_access["API.Anthropic.COM"]`, "claude provider bundle"},
		{"reserved claude.ai", one("claude.ai"), `allowed_network_access["claude.ai"]`, "claude"},
		{"reserved claude.com sub", one("platform.claude.com"), `allowed_network_access["platform.claude.com"]`, "claude"},
		{"reserved trailing dot", one("anthropic.com."), `allowed_network_access["anthropic.com."]`, "claude"},
		{"lookalike not reserved is fine elsewhere", `{"allowed_network_access":{"notopenai.com":{"allow_http_methods":["BREW"]}}}`, `allowed_network_access["notopenai.com"].allow_http_methods[0]`, "not an allowed method"},

		{"overlapping wildcards", `{"allowed_network_access":{"*.example.com":` + rule + `,"*.api.example.com":` + rule + `}}`, `allowed_network_access["*.api.example.com"]`, `overlaps "*.example.com"`},
		{"overlap deep", `{"allowed_network_access":{"*.example.com":` + rule + `,"*.a.b.example.com":` + rule + `}}`, `allowed_network_access["*.a.b.example.com"]`, `overlaps "*.example.com"`},
		{"duplicate after lower-casing", `{"allowed_network_access":{"example.com":` + rule + `,"Example.com":` + rule + `}}`, `allowed_network_access["Example.com"]`, `use "example.com" once`},
		{"duplicate after trailing dot", `{"allowed_network_access":{"example.com.":` + rule + `,"example.com":` + rule + `}}`, `allowed_network_access["example.com"]`, `same domain as "example.com."`},
		{"duplicate literal key", `{"allowed_network_access":{"example.com":` + rule + `,"example.com":{"allow_http_methods":[]}}}`, `allowed_network_access["example.com"]`, "duplicate key"},
		{"duplicate wildcard after normalisation", `{"allowed_network_access":{"*.Example.com":` + rule + `,"*.example.com":` + rule + `}}`, `allowed_network_access["*.example.com"]`, "same domain"},

		{"rule not an object", `{"allowed_network_access":{"example.com":[]}}`, `allowed_network_access["example.com"]`, "must be a JSON object"},
		{"rule null", `{"allowed_network_access":{"example.com":null}}`, `allowed_network_access["example.com"]`, "must be a JSON object"},
		{"methods missing", `{"allowed_network_access":{"example.com":{}}}`, `allowed_network_access["example.com"].allow_http_methods`, "required"},
		{"methods null", `{"allowed_network_access":{"example.com":{"allow_http_methods":null}}}`, `allowed_network_access["example.com"].allow_http_methods`, "array of strings"},
		{"methods string", `{"allowed_network_access":{"example.com":{"allow_http_methods":"GET"}}}`, `allowed_network_access["example.com"].allow_http_methods`, "array of strings"},
		{"method number", `{"allowed_network_access":{"example.com":{"allow_http_methods":[1]}}}`, `allowed_network_access["example.com"].allow_http_methods`, "array of strings"},
		{"method null element", `{"allowed_network_access":{"example.com":{"allow_http_methods":[null]}}}`, `allowed_network_access["example.com"].allow_http_methods[0]`, "not null"},
		{"lower-case method", `{"allowed_network_access":{"example.com":{"allow_http_methods":["get"]}}}`, `allowed_network_access["example.com"].allow_http_methods[0]`, `use "GET"`},
		{"unknown method", `{"allowed_network_access":{"example.com":{"allow_http_methods":["CONNECT"]}}}`, `allowed_network_access["example.com"].allow_http_methods[0]`, "not an allowed method"},
		{"OPTIONS not allowed", `{"allowed_network_access":{"example.com":{"allow_http_methods":["OPTIONS"]}}}`, `allowed_network_access["example.com"].allow_http_methods[0]`, "not an allowed method"},
		{"duplicate method", `{"allowed_network_access":{"example.com":{"allow_http_methods":["GET","POST","GET"]}}}`, `allowed_network_access["example.com"].allow_http_methods[2]`, `duplicate "GET"`},
		{"unknown rule field", `{"allowed_network_access":{"example.com":{"allow_http_methods":[],"allow_ports":[8080]}}}`, `allowed_network_access["example.com"].allow_ports`, "unknown field"},
		{"duplicate rule field", `{"allowed_network_access":{"example.com":{"allow_http_methods":[],"allow_http_methods":["GET"]}}}`, `allowed_network_access["example.com"].allow_http_methods`, "duplicate key"},
		{"guards not array", `{"allowed_network_access":{"example.com":{"allow_http_methods":[],"path_guards":"/x"}}}`, `allowed_network_access["example.com"].path_guards`, "array of strings"},
		{"look-ahead guard", `{"allowed_network_access":{"example.com":{"allow_http_methods":["GET"],"path_guards":["/a(?=b)"]}}}`, `allowed_network_access["example.com"].path_guards[0]`, "invalid or unsupported Perl syntax: `(?=`"},
		{"back-reference guard", `{"allowed_network_access":{"example.com":{"allow_http_methods":["GET"],"path_guards":["/(a)\\1"]}}}`, `allowed_network_access["example.com"].path_guards[0]`, "invalid escape sequence: `\\1`"},
		{"unbalanced guard", `{"allowed_network_access":{"example.com":{"allow_http_methods":["GET"],"path_guards":["/ok","/a("]}}}`, `allowed_network_access["example.com"].path_guards[1]`, "missing closing )"},
		{"guard closing the anchor group", `{"allowed_network_access":{"example.com":{"allow_http_methods":["GET"],"path_guards":["/a)|(.*"]}}}`, `allowed_network_access["example.com"].path_guards[0]`, "unexpected )"},
		{"empty guard", `{"allowed_network_access":{"example.com":{"allow_http_methods":["GET"],"path_guards":[""]}}}`, `allowed_network_access["example.com"].path_guards[0]`, "empty pattern"},
		{"too long guard", `{"allowed_network_access":{"example.com":{"allow_http_methods":["GET"],"path_guards":["` + strings.Repeat("a", MaxGuardLen+1) + `"]}}}`, `allowed_network_access["example.com"].path_guards[0]`, "longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse accepted %s as %+v", tc.doc, p)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
			}
			if tc.wantField != "" && ve.Field != tc.wantField {
				t.Errorf("field = %q, want %q (error %q)", ve.Field, tc.wantField, err)
			}
			if !strings.Contains(ve.Message, tc.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", ve.Message, tc.wantMsg)
			}
		})
	}
}

func TestParseNormalisesAndAccepts(t *testing.T) {
	doc := `{
	  "managed_ai_provider_network_access": {"openai": true},
	  "allowed_network_access": {
	    "API.GitHub.com.": {"allow_http_methods": ["GET", "HEAD"], "path_guards": ["/repos/[^/]+/[^/]+(?:/.*)?"]},
	    "*.Example.org": {"allow_http_methods": ["GET","HEAD","POST","PUT","PATCH","DELETE"]},
	    "example.org": {"allow_http_methods": []},
	    "xn--bcher-kva.example": {"allow_http_methods": ["GET"]},
	    "_dmarc.example.net": {"allow_http_methods": ["GET"]},
	    "*.github.io": {"allow_http_methods": ["GET"]}
	  }
	}`
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"*.example.org", "*.github.io", "_dmarc.example.net", "api.github.com", "example.org", "xn--bcher-kva.example"}
	got := sortedKeys(p.Allowed)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("keys = %v, want %v", got, want)
	}
	if !p.ProviderEnabled(ProviderOpenAI) || p.ProviderEnabled(ProviderClaude) || p.ProviderEnabled("gemini") {
		t.Fatalf("providers = %+v", p.ManagedProviders)
	}
	if m := p.Allowed["example.org"].AllowHTTPMethods; m == nil || len(m) != 0 {
		t.Fatalf("empty method list must stay an empty list, got %#v", m)
	}
	if err := Validate(p); err != nil {
		t.Fatalf("Validate of a parsed policy: %v", err)
	}
}

func TestParseAcceptsEmptyPolicyAndTooManyDomainsIsRejected(t *testing.T) {
	p, err := Parse([]byte(`{"allowed_network_access": {}}`))
	if err != nil || len(p.Allowed) != 0 || p.ManagedProviders != nil {
		t.Fatalf("empty policy: %+v, %v", p, err)
	}
	var b strings.Builder
	b.WriteString(`{"allowed_network_access":{`)
	for i := 0; i <= MaxDomains; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"h` + itoa(i) + `.example.com":{"allow_http_methods":[]}`)
	}
	b.WriteString(`}}`)
	if _, err := Parse([]byte(b.String())); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("want too-many-domains error, got %v", err)
	}
	big := `{"allowed_network_access":{},"x":"` + strings.Repeat("a", MaxPolicyBytes) + `"}`
	if _, err := Parse([]byte(big)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("want size error, got %v", err)
	}
}

func TestValidateRejectsHandBuiltPolicyWithNonNormalKey(t *testing.T) {
	p := &Policy{Allowed: map[string]DomainRule{"Example.com": {AllowHTTPMethods: []string{"GET"}}}}
	err := Validate(p)
	if err == nil || err.Error() != `allowed_network_access["Example.com"]: use "example.com"` {
		t.Fatalf("got %v", err)
	}
	if _, err := Compile(p); err == nil {
		t.Fatal("Compile accepted a non-normal key")
	}
	if _, err := Compile(nil); err == nil {
		t.Fatal("Compile accepted nil")
	}
	bad := &Policy{Allowed: map[string]DomainRule{"*.a.example.com": {AllowHTTPMethods: []string{}}, "*.example.com": {}}}
	if _, err := Compile(bad); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Fatalf("Compile of overlapping wildcards: %v", err)
	}
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}
