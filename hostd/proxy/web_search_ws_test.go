package proxy

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// wsUpstream is an echoing WebSocket server that records messages.
type wsUpstream struct {
	mu       sync.Mutex
	messages []string
	exts     []string
}

func (u *wsUpstream) handler(compress bool) http.Handler {
	up := websocket.Upgrader{EnableCompression: compress}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.exts = append(u.exts, r.Header.Get("Sec-WebSocket-Extensions"))
		u.mu.Unlock()
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.messages = append(u.messages, string(msg))
			u.mu.Unlock()
			if err := c.WriteMessage(mt, append([]byte("echo:"), msg...)); err != nil {
				return
			}
		}
	})
}

func (u *wsUpstream) got() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.messages...)
}

func startWSOpenAI(t *testing.T, compress bool) (*env, *wsUpstream) {
	e := startProxy(t, openAIPolicy)
	e.policy.setPins(policy.Pins{OpenAIAccountID: "acct-pinned"})
	u := &wsUpstream{}
	up := tlsUpstream(t, e.uca, u.handler(compress))
	e.p.cfg.DevUpstreams = map[string]string{"chatgpt.com": up.Listener.Addr().String()}
	return e, u
}

func (e *env) wsDial(t *testing.T, rawURL string, compress bool) (*websocket.Conn, *http.Response) {
	t.Helper()
	pu, _ := url.Parse("http://" + e.addr)
	d := websocket.Dialer{
		Proxy:             http.ProxyURL(pu),
		TLSClientConfig:   &tls.Config{RootCAs: e.caPool},
		EnableCompression: compress,
		HandshakeTimeout:  5 * time.Second,
	}
	h := http.Header{"Chatgpt-Account-Id": {"acct-pinned"}}
	c, resp, err := d.Dial(rawURL, h)
	if err != nil {
		t.Fatalf("websocket dial %s: %v (resp %v)", rawURL, err, resp)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, resp
}

// expectClose reads until the connection closes and returns the close.
func expectClose(t *testing.T, c *websocket.Conn) *websocket.CloseError {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok {
			t.Fatalf("connection ended without a close frame: %v", err)
		}
		return ce
	}
}

func TestWebSearchToolInWebSocketMessageClosesTheConnection(t *testing.T) {
	for _, mt := range []int{websocket.TextMessage, websocket.BinaryMessage} {
		e, u := startWSOpenAI(t, false)
		c, _ := e.wsDial(t, "wss://chatgpt.com/backend-api/codex/responses", false)
		if err := c.WriteMessage(mt, []byte(allowedBody)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, echo, err := c.ReadMessage()
		if err != nil || string(echo) != "echo:"+allowedBody {
			t.Fatalf("allowed message not relayed: %q %v", echo, err)
		}
		if err := c.WriteMessage(mt, []byte(forbiddenBody)); err != nil {
			t.Fatal(err)
		}
		ce := expectClose(t, c)
		if ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, "web_search") {
			t.Fatalf("close = %d %q", ce.Code, ce.Text)
		}
		if got := u.got(); len(got) != 1 || got[0] != allowedBody {
			t.Fatalf("upstream received %q", got)
		}
		ev := e.events.waitFor(t, "ws denial", func(ev netstate.Event) bool {
			return ev.Decision == decisionDenied && ev.Protocol == "wss"
		})
		if ev.Host != "chatgpt.com" || ev.Path != "/backend-api/codex/responses" || !strings.HasPrefix(ev.Reason, "WebSocket message") {
			t.Fatalf("event %+v", ev)
		}
	}
}

func TestWebSearchToolInFragmentedWebSocketMessageIsCaught(t *testing.T) {
	e, u := startWSOpenAI(t, false)
	c, _ := e.wsDial(t, "wss://chatgpt.com/backend-api/codex/responses", false)
	w, err := c.NextWriter(websocket.TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	// gorilla flushes a frame per Write once its buffer fills; force
	// several fragments by writing more than one buffer's worth.
	pad := strings.Repeat(" ", 8000)
	for _, part := range []string{`{"tools":[{"type":` + pad, `"web_sea`, `rch"}]}`} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if ce := expectClose(t, c); ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("close code %d", ce.Code)
	}
	if len(u.got()) != 0 {
		t.Fatal("fragmented forbidden message reached upstream")
	}
}

func TestWebSocketOnUnguardedHostIsRelayed(t *testing.T) {
	e := startProxy(t, policyJSON(`"ws.example.test": {"allow_http_methods": ["GET"]}`))
	u := &wsUpstream{}
	up := tlsUpstream(t, e.uca, u.handler(true))
	e.p.cfg.DevUpstreams = map[string]string{"ws.example.test": up.Listener.Addr().String()}
	c, _ := e.wsDial(t, "wss://ws.example.test/socket", false)
	if err := c.WriteMessage(websocket.TextMessage, []byte(forbiddenBody)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, m, err := c.ReadMessage(); err != nil || string(m) != "echo:"+forbiddenBody {
		t.Fatalf("relay: %q %v", m, err)
	}
	e.events.waitFor(t, "wss allowed", func(ev netstate.Event) bool {
		return ev.Protocol == "wss" && ev.Decision == decisionAllowed && ev.Method == "GET"
	})
}

func TestWebSocketHandshakeIsDecidedLikeAnyRequest(t *testing.T) {
	e, _ := startWSOpenAI(t, false)
	pu, _ := url.Parse("http://" + e.addr)
	d := websocket.Dialer{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: e.caPool}}
	_, resp, err := d.Dial("wss://chatgpt.com/backend-api/codex/responses", http.Header{"Chatgpt-Account-Id": {"someone-else"}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("handshake with the wrong account: err=%v resp=%v", err, resp)
	}
}

func pinned() policy.Pins { return policy.Pins{OpenAIAccountID: "acct-pinned"} }
