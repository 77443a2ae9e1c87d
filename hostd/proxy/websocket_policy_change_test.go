package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

// An open WebSocket is re-decided while it runs: once the policy stops
// allowing it, the proxy closes it like it would refuse a new one.
func TestOpenWebSocketIsClosedWhenThePolicyNoLongerAllowsIt(t *testing.T) {
	l := testLimits()
	l.PolicyRecheck = 20 * time.Millisecond
	e := startProxy(t, policyJSON(`"ws.example.test": {"allow_http_methods": ["GET"]}`), withLimits(l))
	u := &wsUpstream{}
	up := tlsUpstream(t, e.uca, u.handler(false))
	e.p.cfg.DevUpstreams = map[string]string{"ws.example.test": up.Listener.Addr().String()}
	c, _ := e.wsDial(t, "wss://ws.example.test/socket", false)
	if err := c.WriteMessage(websocket.TextMessage, []byte("one")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, m, err := c.ReadMessage(); err != nil || string(m) != "echo:one" {
		t.Fatalf("before the change: %q %v", m, err)
	}
	e.policy.set(t, policyJSON(`"other.example.test": {"allow_http_methods": ["GET"]}`))
	ce := expectClose(t, c)
	if ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, "no longer allows") {
		t.Fatalf("close %d %q", ce.Code, ce.Text)
	}
	e.events.waitFor(t, "revocation", func(ev netstate.Event) bool {
		return ev.Decision == decisionDenied && ev.Protocol == "wss" && strings.Contains(ev.Reason, "no longer allows")
	})
}

func TestOpenWebSocketIsClosedWhenThePolicyBecomesInvalid(t *testing.T) {
	l := testLimits()
	l.PolicyRecheck = 20 * time.Millisecond
	e := startProxy(t, openAIPolicy, withLimits(l))
	e.policy.setPins(pinned())
	u := &wsUpstream{}
	up := tlsUpstream(t, e.uca, u.handler(false))
	e.p.cfg.DevUpstreams = map[string]string{"chatgpt.com": up.Listener.Addr().String()}
	c, _ := e.wsDial(t, "wss://chatgpt.com/backend-api/codex/responses", false)
	e.policy.setErr(errCorruptForTest)
	if ce := expectClose(t, c); ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("close %d %q", ce.Code, ce.Text)
	}
}
