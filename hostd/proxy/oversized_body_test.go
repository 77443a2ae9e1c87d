package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// zeroes streams n bytes without allocating them.
type zeroes struct{ left int64 }

func (z *zeroes) Read(p []byte) (int, error) {
	if z.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), z.left)
	clear(p[:n])
	z.left -= n
	return int(n), nil
}

// A streamed (unguarded) body is counted against the 128 MiB cap too.
func TestStreamedBodyOver128MiBIsRefusedWith413(t *testing.T) {
	e := startProxy(t, policyJSON(`"upload.example.test": {"allow_http_methods": ["POST"]}`))
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(up.Close)
	e.p.cfg.DevUpstreams = map[string]string{"upload.example.test": up.Listener.Addr().String()}

	req, _ := http.NewRequest("POST", "http://upload.example.test/big", io.MultiReader(&zeroes{MaxBodyBytes + 1}))
	resp, err := e.client().Do(req)
	if err != nil {
		t.Fatalf("client error instead of 413: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	ev := e.events.denial(t, "upload.example.test")
	if !strings.Contains(ev.Reason, "exceeds") {
		t.Fatalf("event %+v", ev)
	}
}

func TestDeclaredContentLengthOverCapIsRefusedBeforeForwarding(t *testing.T) {
	e := startOpenAI(t)
	var hits counter
	up := httptest.NewServer(hits.wrap(http.NotFoundHandler()))
	t.Cleanup(up.Close)
	e.p.cfg.DevUpstreams["upload.example.test"] = up.Listener.Addr().String()
	e.policy.set(t, `{"managed_ai_provider_network_access": {"openai": true}, "allowed_network_access": {"upload.example.test": {"allow_http_methods": ["POST"]}}}`)
	for _, target := range []string{"http://upload.example.test/x"} {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		resp := rawExchange(t, c, "POST "+target+" HTTP/1.1\r\nHost: upload.example.test\r\nContent-Length: 134217729\r\n\r\n")
		c.Close()
		if resp.StatusCode != 413 {
			t.Fatalf("%s: %d", target, resp.StatusCode)
		}
	}
	tc := e.tlsTunnel("api.openai.com:443", "api.openai.com")
	resp := rawExchange(t, tc, "POST /v1/responses HTTP/1.1\r\nHost: api.openai.com\r\nchatgpt-account-id: acct-pinned\r\nContent-Length: 134217729\r\n\r\n")
	if resp.StatusCode != 413 {
		t.Fatalf("guarded: %d", resp.StatusCode)
	}
	if hits.n.Load() != 0 || len(e.got()) != 0 {
		t.Fatal("oversized request reached an upstream")
	}
}

// A guarded chunked body must be buffered to be inspected; past the cap
// it is refused (cap lowered so the test stays fast).
func TestGuardedChunkedBodyOverCapIsRefused(t *testing.T) {
	l := testLimits()
	l.MaxBodyBytes = 4 << 20
	e := startOpenAI(t, withLimits(l))
	req, _ := http.NewRequest("POST", "https://api.openai.com/v1/responses", io.MultiReader(&zeroes{4<<20 + 1}))
	req.Header.Set("chatgpt-account-id", "acct-pinned")
	status, _ := e.do(req)
	if status != 413 {
		t.Fatalf("status %d", status)
	}
	if used, _ := e.p.BudgetStats(); used != 0 {
		t.Fatalf("budget leaked %d bytes", used)
	}
	if len(e.got()) != 0 {
		t.Fatal("reached upstream")
	}
}
