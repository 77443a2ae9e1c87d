package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

func TestOpenAIAccountGuardPassesOnlyThePinnedAccount(t *testing.T) {
	e := startOpenAI(t)
	send := func(ids ...string) int {
		req, _ := http.NewRequest("POST", "https://api.openai.com/v1/responses", strings.NewReader(allowedBody))
		for _, id := range ids {
			req.Header.Add("chatgpt-account-id", id)
		}
		s, _ := e.do(req)
		return s
	}
	if s := send("acct-pinned"); s != 200 {
		t.Fatalf("pinned account: %d", s)
	}
	for name, ids := range map[string][]string{
		"none":       nil,
		"other":      {"acct-other"},
		"one of two": {"acct-pinned", "acct-other"},
	} {
		if s := send(ids...); s != 403 {
			t.Errorf("%s: %d, want 403", name, s)
		}
	}
	e.policy.setPins(policy.Pins{})
	if s := send("acct-pinned"); s != 403 {
		t.Fatalf("no pin yet: %d, want 403", s)
	}
	if n := len(e.got()); n != 1 {
		t.Fatalf("upstream saw %d requests, want 1", n)
	}
}

func TestAnthropicAccountGuardPassesOnlyThePinnedToken(t *testing.T) {
	e := startProxy(t, `{"managed_ai_provider_network_access": {"claude": true}, "allowed_network_access": {}}`)
	var hits counter
	up := tlsUpstream(t, e.uca, hits.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})))
	e.p.cfg.DevUpstreams = map[string]string{"api.anthropic.com": up.Listener.Addr().String()}
	sum := sha256.Sum256([]byte("tok-good"))
	send := func(method, path, token string) int {
		req, _ := http.NewRequest(method, "https://api.anthropic.com"+path, strings.NewReader("{}"))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		s, _ := e.do(req)
		return s
	}
	if s := send("GET", "/api/hello", ""); s != 200 {
		t.Fatalf("startup probe: %d", s)
	}
	if s := send("POST", "/v1/messages", "tok-good"); s != 403 {
		t.Fatalf("model traffic before pinning: %d", s)
	}
	if s := send("GET", "/api/oauth/profile", "tok-good"); s != 200 {
		t.Fatalf("login bootstrap read before pinning: %d", s)
	}
	e.policy.setPins(policy.Pins{ClaudeTokenSHA256: hex.EncodeToString(sum[:])})
	if s := send("POST", "/v1/messages", "tok-good"); s != 200 {
		t.Fatalf("pinned token: %d", s)
	}
	if s := send("POST", "/v1/messages", "tok-other"); s != 403 {
		t.Fatalf("other token: %d", s)
	}
	if s := send("POST", "/v1/messages", ""); s != 403 {
		t.Fatalf("no token: %d", s)
	}
	if n := hits.n.Load(); n != 3 {
		t.Fatalf("upstream saw %d requests, want 3", n)
	}
}
