package policy

import (
	"net/http"
	"testing"
)

// fixturePolicy exercises every kind of rule.
const fixturePolicy = `{
  "managed_ai_provider_network_access": {"openai": true, "claude": true},
  "allowed_network_access": {
    "api.github.com": {"allow_http_methods": ["GET", "HEAD"], "path_guards": ["/repos/[^/]+/[^/]+(?:/.*)?", "/rate_limit"]},
    "*.example.com": {"allow_http_methods": ["GET", "POST"]},
    "www.example.com": {"allow_http_methods": ["GET"]},
    "closed.example.net": {"allow_http_methods": []},
    "search.example.net": {"allow_http_methods": ["GET"], "path_guards": ["/search\\?q=[a-z]+"]},
    "plain.example.org": {"allow_http_methods": ["GET", "DELETE"]}
  }
}`

func mustCompile(t testing.TB, doc string) *Compiled {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	c, err := Compile(p)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return c
}

// req builds a consistent HTTPS request.
func req(method, host, target string, hdr ...string) Request {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	return Request{Scheme: "https", Method: method, Host: host, Port: 443, HostHeader: host, Target: target, Header: h}
}
