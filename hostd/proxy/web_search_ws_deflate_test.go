package proxy

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

// A client offering permessage-deflate gets a connection without it: the
// offer never reaches the upstream, so every message stays inspectable.
func TestPermessageDeflateOfferIsNeverNegotiated(t *testing.T) {
	e, u := startWSOpenAI(t, true)
	c, resp := e.wsDial(t, "wss://chatgpt.com/backend-api/codex/responses", true)
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("extension negotiated through the proxy: %q", ext)
	}
	u.mu.Lock()
	offered := append([]string(nil), u.exts...)
	u.mu.Unlock()
	if len(offered) != 1 || offered[0] != "" {
		t.Fatalf("upstream saw an extension offer: %q", offered)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte(forbiddenBody)); err != nil {
		t.Fatal(err)
	}
	if ce := expectClose(t, c); ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("close code %d", ce.Code)
	}
	if len(u.got()) != 0 {
		t.Fatal("forbidden message reached upstream")
	}
}

// A client that compresses anyway (RSV1 set without negotiation) is cut
// off with a protocol error; the compressed message never goes upstream.
func TestCompressedWebSocketFrameIsRefused(t *testing.T) {
	e, u := startWSOpenAI(t, true)
	tc := e.tlsTunnel("chatgpt.com:443", "chatgpt.com")
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	_, _ = io.WriteString(tc, "GET /backend-api/codex/responses HTTP/1.1\r\nHost: chatgpt.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nChatgpt-Account-Id: acct-pinned\r\n\r\n")
	br := bufio.NewReader(tc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Fatalf("handshake: %d ext=%q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Extensions"))
	}
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	_, _ = fw.Write([]byte(forbiddenBody))
	_ = fw.Flush()
	payload := bytes.TrimSuffix(comp.Bytes(), []byte{0, 0, 0xff, 0xff})
	if bytes.Contains(payload, []byte("web_search")) {
		t.Fatal("test payload is not actually compressed")
	}
	_, _ = tc.Write(maskedFrame(0xC1, payload)) // FIN + RSV1 + text
	_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	code, reason := readCloseFrame(t, br)
	if code != 1002 || !strings.Contains(reason, "RSV") {
		t.Fatalf("close %d %q", code, reason)
	}
	e.events.waitFor(t, "ws denial", func(ev netstate.Event) bool {
		return ev.Decision == decisionDenied && strings.Contains(ev.Reason, "RSV")
	})
	if len(u.got()) != 0 {
		t.Fatal("compressed message reached upstream")
	}
}

func maskedFrame(b0 byte, payload []byte) []byte {
	f := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	mask := [4]byte{1, 2, 3, 4}
	f = append(f, mask[:]...)
	p := append([]byte(nil), payload...)
	unmask(p, mask, 0)
	return append(f, p...)
}

func readCloseFrame(t *testing.T, br *bufio.Reader) (int, string) {
	t.Helper()
	for {
		f, err := readWSFrameHeader(br)
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		p := make([]byte, f.length)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatal(err)
		}
		if f.opcode == wsClose && len(p) >= 2 {
			return int(binary.BigEndian.Uint16(p)), string(p[2:])
		}
	}
}
