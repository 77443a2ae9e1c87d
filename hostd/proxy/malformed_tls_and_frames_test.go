package proxy

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Garbage instead of a TLS ClientHello ends that tunnel, nothing else.
func TestGarbageInsteadOfTLSEndsOnlyThatTunnel(t *testing.T) {
	e := startProxy(t, policyJSON(apiPolicy))
	c, status := e.dialTunnel("api.example.test:443")
	if c == nil {
		t.Fatalf("CONNECT: %q", status)
	}
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: api.example.test\r\n\r\n"+strings.Repeat("\x16\x03\x01\xff\xff", 100))
	waitClosed(t, c, 5*time.Second)
	if s, _ := e.get("http://nope.example.test/"); s != 403 {
		t.Fatalf("proxy unhealthy after garbage: %d", s)
	}
}

// Invalid WebSocket framing from the client closes with a protocol error
// and reaches the upstream as nothing.
func TestMalformedWebSocketFramesAreRefused(t *testing.T) {
	for name, frame := range map[string][]byte{
		"reserved opcode":         maskedFrame(0x83, []byte("x")),
		"unmasked":                {0x81, 0x02, 'h', 'i'},
		"fragmented ping":         maskedFrame(0x09, []byte("p")),
		"continuation first":      maskedFrame(0x80, []byte("x")),
		"oversized control":       maskedFrame(0x89, make([]byte, 126)),
		"length with top bit set": {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4},
	} {
		t.Run(name, func(t *testing.T) {
			e, u := startWSOpenAI(t, false)
			tc := e.tlsTunnel("chatgpt.com:443", "chatgpt.com")
			_, _ = io.WriteString(tc, "GET /backend-api/codex/responses HTTP/1.1\r\nHost: chatgpt.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nChatgpt-Account-Id: acct-pinned\r\n\r\n")
			br := bufio.NewReader(tc)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 101 {
				t.Fatalf("handshake: %v %v", resp, err)
			}
			_, _ = tc.Write(frame)
			_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if code, _ := readCloseFrame(t, br); code != 1002 {
				t.Fatalf("close code %d, want 1002", code)
			}
			if len(u.got()) != 0 {
				t.Fatal("malformed frame reached upstream")
			}
		})
	}
}
