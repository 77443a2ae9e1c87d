package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestConnectionsOverTheCapGet503(t *testing.T) {
	l := testLimits()
	l.MaxConns = 2
	e := startProxy(t, policyJSON(apiPolicy), withLimits(l))
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// The accept loop takes connections in order, so the third is
	// judged after the first two hold both slots.
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("third connection: %d %v", resp.StatusCode, resp.Header)
	}
	if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), "connection limit") {
		t.Fatalf("body %q", b)
	}
	// Freeing a slot lets the next client in.
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c2, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		resp := rawExchange(t, c2, "GET http://nope.example.test/ HTTP/1.1\r\nHost: nope.example.test\r\n\r\n")
		c2.Close()
		if resp.StatusCode == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot never freed: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
