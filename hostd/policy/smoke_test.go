package policy

import (
	"net/http"
	"testing"
)

func TestSmokeParseCompileDecide(t *testing.T) {
	p, err := Parse([]byte(`{"managed_ai_provider_network_access":{"openai":true},"allowed_network_access":{"API.github.com.":{"allow_http_methods":["GET"],"path_guards":["/repos/.*"]},"*.example.com":{"allow_http_methods":["GET","POST"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	d := c.Decide(Request{Scheme: "https", Method: "GET", Host: "api.github.com", Port: 443, HostHeader: "api.github.com", Target: "/repos/a/b"}, Pins{})
	if !d.Allow {
		t.Fatalf("%+v", d)
	}
	d = c.Decide(Request{Scheme: "https", Method: "POST", Host: "api.openai.com", Port: 443, HostHeader: "api.openai.com", Target: "/v1/responses", Header: http.Header{"Chatgpt-Account-Id": {"acc"}}}, Pins{OpenAIAccountID: "acc"})
	if !d.Allow || !d.WebSearchGuard {
		t.Fatalf("%+v", d)
	}
	d = c.Decide(Request{Scheme: "https", Method: "GET", Host: "example.com", Port: 443, HostHeader: "example.com", Target: "/"}, Pins{})
	if d.Allow || d.Step != StepRule {
		t.Fatalf("%+v", d)
	}
	t.Log(d)
	ok, reason := CheckWebSearch([]byte(`{"tools":[{"type":"web_search"}]}`))
	if ok {
		t.Fatal("web search allowed")
	}
	t.Log(reason)
	_, err = Parse([]byte(`{"allowed_network_access":{"Example.com":{"allow_http_methods":[]},"example.com":{"allow_http_methods":[]}}}`))
	t.Log(err)
}
