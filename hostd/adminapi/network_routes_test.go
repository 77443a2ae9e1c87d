package adminapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

const goodPolicy = `{"managed_ai_provider_network_access":{"openai":true,"claude":false},
 "allowed_network_access":{"api.github.com":{"allow_http_methods":["GET","HEAD"],"path_guards":["^/repos/.*$"]}}}`

func TestGetPolicyShape(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/v1/network/policy", "")
	mustStatus(t, r, http.StatusOK)
	got := strings.TrimSpace(string(r.body))
	want := `{"network_controls":{"managed_ai_provider_network_access":{"openai":false,"claude":false},"allowed_network_access":{}},"updated_at":"2026-03-04T05:06:07.000Z"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// An unreadable stored policy: null controls and the reason.
	h.net.mu.Lock()
	h.net.pol, h.net.polErr = nil, "policy.json: unexpected end of JSON input"
	h.net.mu.Unlock()
	m := h.do("GET", "/v1/network/policy", "").json(t)
	if m["network_controls"] != nil || !strings.Contains(m["error_message"].(string), "policy.json") {
		t.Fatalf("invalid stored policy: %v", m)
	}
}

func TestPutPolicyReplacesAndTellsTheSupervisor(t *testing.T) {
	h := newHarness(t)
	r := h.do("PUT", "/v1/network/policy", goodPolicy)
	mustStatus(t, r, http.StatusOK)
	var doc struct {
		NetworkControls policy.Policy `json:"network_controls"`
		UpdatedAt       string        `json:"updated_at"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if _, ok := doc.NetworkControls.Allowed["api.github.com"]; !ok || !doc.NetworkControls.ProviderEnabled("openai") {
		t.Fatalf("stored policy: %s", r.body)
	}
	h.sup.mu.Lock()
	calls := h.sup.providers
	h.sup.mu.Unlock()
	if len(calls) != 1 || !calls[0]["openai"] || calls[0]["claude"] {
		t.Fatalf("ProvidersChanged calls %v", calls)
	}
	if !strings.Contains(string(h.do("GET", "/v1/network/policy", "").body), "api.github.com") {
		t.Fatal("GET does not show the new policy")
	}
}

func TestPutInvalidPolicyIs400NamingTheField(t *testing.T) {
	h := newHarness(t)
	cases := map[string]string{
		`{"allowed_network_access":{"1.2.3.4":{"allow_http_methods":["GET"]}}}`:                       "1.2.3.4",
		`{"allowed_network_access":{"a.com":{"allow_http_methods":["FETCH"]}}}`:                       "allow_http_methods",
		`{"allowed_network_access":{"a.com":{"allow_http_methods":["GET"],"x":1}}}`:                   "x",
		`{"allowed_network_access":{"api.openai.com":{"allow_http_methods":["GET"]}}}`:                "api.openai.com",
		`{"allowed_network_access":{"a.com":{"allow_http_methods":["GET"],"allow_http_methods":[]}}}`: "allow_http_methods",
		`{"allowed_network_access":{}} trailing`:                                                      "",
		`[]`:                                                                                          "",
		`{}`:                                                                                          "allowed_network_access",
	}
	for body, field := range cases {
		r := h.do("PUT", "/v1/network/policy", body)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", body, r.status)
			continue
		}
		if msg := r.errMsg(t); !strings.Contains(msg, field) {
			t.Errorf("%s: message %q does not name %q", body, msg, field)
		}
	}
	if h.net.replaces != 0 {
		t.Fatal("an invalid policy reached the network state")
	}
	h.sup.mu.Lock()
	defer h.sup.mu.Unlock()
	if len(h.sup.providers) != 0 {
		t.Fatal("ProvidersChanged after a rejected policy")
	}
}

func TestConcurrentPolicyPutsAreSerialised(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	h.net.mu.Lock()
	h.net.release, h.net.entered = release, make(chan struct{}, 10)
	h.net.mu.Unlock()
	var wg sync.WaitGroup
	var first resp
	wg.Add(1)
	go func() {
		defer wg.Done()
		first = h.do("PUT", "/v1/network/policy", goodPolicy)
	}()
	<-h.net.entered
	r := h.do("PUT", "/v1/network/policy", goodPolicy)
	mustStatus(t, r, http.StatusConflict)
	r.errMsg(t)
	close(release)
	wg.Wait()
	mustStatus(t, first, http.StatusOK)
	mustStatus(t, h.do("PUT", "/v1/network/policy", goodPolicy), http.StatusOK)
}

func TestPolicyBusyInProxyStateIs409(t *testing.T) {
	h := newHarness(t)
	h.net.busy = true
	r := h.do("PUT", "/v1/network/policy", goodPolicy)
	mustStatus(t, r, http.StatusConflict)
	r.errMsg(t)
}

func TestPolicyCheck(t *testing.T) {
	h := newHarness(t)
	mustStatus(t, h.do("PUT", "/v1/network/policy", goodPolicy), http.StatusOK)
	check := func(body string) map[string]any {
		t.Helper()
		r := h.do("POST", "/v1/network/policy/check", body)
		mustStatus(t, r, http.StatusOK)
		return r.json(t)
	}
	got := check(`{"method":"GET","url":"https://api.github.com/repos/a/b"}`)
	if got["decision"] != "allowed" || got["rule"] != "api.github.com" || got["reason"] != nil {
		t.Fatalf("allowed case: %v", got)
	}
	got = check(`{"method":"POST","url":"https://api.github.com/repos/a/b"}`)
	if got["decision"] != "denied" || got["reason"] == nil {
		t.Fatalf("method denial: %v", got)
	}
	got = check(`{"method":"GET","url":"https://example.com/"}`)
	if got["decision"] != "denied" || got["rule"] != nil {
		t.Fatalf("no rule: %v", got)
	}
	got = check(`{"method":"get","url":"http://api.github.com:8080/repos/x"}`)
	if got["decision"] != "denied" {
		t.Fatalf("port: %v", got)
	}
	// Methods are case-sensitive, as in the proxy, which refuses "get".
	got = check(`{"method":"get","url":"https://api.github.com/repos/a/b"}`)
	if got["decision"] != "denied" {
		t.Fatalf("lower-case method: %v", got)
	}
	// What the proxy refuses before any policy decision is refused here too.
	for _, bad := range []string{
		`{"method":"GET","url":"https://api.github.com//repos/a/b"}`, `{"method":"GET","url":"https://api.github.com:0443/repos/a/b"}`,
		`{"method":"CONNECT","url":"https://api.github.com/"}`,
	} {
		r := h.do("POST", "/v1/network/policy/check", bad)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, r.status)
		}
	}
	for _, bad := range []string{
		`{"method":"GET"}`, `{"method":"GET","url":"ftp://x.com/"}`, `{"method":"G ET","url":"https://a.com/"}`,
		`{"method":"GET","url":"https://user:pw@a.com/"}`, `{"method":"GET","url":"/relative"}`, `{"method":"GET","url":5}`,
	} {
		r := h.do("POST", "/v1/network/policy/check", bad)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, r.status)
		}
	}
	// An invalid stored policy denies everything, like the proxy.
	h.net.mu.Lock()
	h.net.pol, h.net.polErr = nil, "corrupt"
	h.net.mu.Unlock()
	if got := check(`{"method":"GET","url":"https://api.github.com/repos/a/b"}`); got["decision"] != "denied" {
		t.Fatalf("invalid policy: %v", got)
	}
}

func TestNetworkStatusErrorsDegradeHealth(t *testing.T) {
	h := newHarness(t)
	h.net.mu.Lock()
	h.net.status = netstate.Status{PolicyValid: false, PolicyError: "policy.json is corrupt", ProxyListening: true}
	h.net.mu.Unlock()
	m := h.do("GET", "/v1/health", "").json(t)
	nc := m["network_controls"].(map[string]any)
	if m["status"] != "degraded" || nc["status"] != "error" || !strings.Contains(nc["error_message"].(string), "corrupt") {
		t.Fatalf("health: %v", m)
	}
	h.net.mu.Lock()
	h.net.status = netstate.Status{PolicyValid: true, ProxyListening: false}
	h.net.mu.Unlock()
	m = h.do("GET", "/v1/health", "").json(t)
	if m["status"] != "degraded" || m["network_controls"].(map[string]any)["status"] != "error" {
		t.Fatalf("proxy down: %v", m)
	}
}
