package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `hostd proxy` starts on the given state dir and address, creates the
// CA, denies everything under the fresh empty policy, and stops cleanly
// when its context ends.
func TestHostdProxyCommandServesAndShutsDown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proxy-state")
	caOut := filepath.Join(t.TempDir(), "proxy-ca.crt")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runProxy(ctx, []string{"--state-dir", dir, "--listen", "127.0.0.1:0", "--publish-ca-cert", caOut}, nil, pw, io.Discard)
		_ = pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no start-up line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	addr := strings.TrimSpace(strings.TrimPrefix(line, "proxy listening on "))
	if _, err := os.Stat(caOut); err != nil {
		t.Fatalf("CA certificate not published: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "proxy-ca.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("CA key: %v", err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("fresh host allowed a request: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runProxy: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("hostd proxy did not stop")
	}
}

func TestHostdProxyRefusesDevFlags(t *testing.T) {
	err := runProxy(context.Background(), []string{"--dev-upstream", "a=127.0.0.1:1"}, nil, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("host-mode proxy accepted --dev-upstream")
	}
}

func TestHostdProxyPrintsTheCACertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proxy-state")
	var out strings.Builder
	if err := runProxy(context.Background(), []string{"--state-dir", dir, "--print-ca-cert"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "-----BEGIN CERTIFICATE-----") || strings.Contains(out.String(), "PRIVATE") {
		t.Fatalf("output %q", out.String())
	}
	var again strings.Builder
	if err := runProxy(context.Background(), []string{"--state-dir", dir, "--print-ca-cert"}, nil, &again, io.Discard); err != nil {
		t.Fatal(err)
	}
	if again.String() != out.String() {
		t.Fatal("second call printed a different CA")
	}
}
