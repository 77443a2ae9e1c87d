package adminapi

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A client that sends its headers and then trickles (or withholds) the
// body must not hold a handler: the body read has a deadline, and the
// answer is a 400 that releases the idempotency reservation.
func TestSlowBodyIsCutOff(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.BodyReadTimeout = 200 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"+
		"Idempotency-Key: slow-1\r\nContent-Length: 100\r\n\r\n{\"agent", testPassword)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", res.StatusCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("answered after %v", d)
	}
	if _, ok := h.idem.get("slow-1"); ok {
		t.Fatal("the reservation was kept")
	}
	if h.tasks.called("Create") != 0 {
		t.Fatal("a partial body created a task")
	}
}

// The same for a route whose handler never reads the body (a 404 for an
// unknown task): the server's discard of the unread body is bounded too.
func TestSlowBodyOnRouteThatIgnoresItIsCutOff(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.BodyReadTimeout = 200 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/tasks/nope HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"+
		"Content-Length: 100\r\n\r\n{", testPassword)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", res.StatusCode)
	}
}
