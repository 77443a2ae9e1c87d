package app

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

func TestRequireLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:7443": true, "127.0.0.1:0": true, "[::1]:0": true, "localhost:7445": true,
		"127.3.4.5:80": true, "0.0.0.0:0": false, "[::]:0": false, ":7443": false,
		"192.168.1.10:7443": false, "example.com:7443": false, "127.0.0.1": false,
	} {
		if err := requireLoopback(addr); (err == nil) != ok {
			t.Errorf("requireLoopback(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
}

// RunDev refuses a non-loopback address as a usage error before it
// creates anything in the state directory.
func TestRunDevRefusesNonLoopbackListen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	err := RunDev(context.Background(), DevOptions{StateDir: dir, AdminListen: "0.0.0.0:0", Out: io.Discard, Log: logging.Nop()})
	if !errors.Is(err, ErrUsage) {
		t.Fatalf("RunDev = %v, want a usage error", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
		t.Fatalf("state dir written before the refusal: %v", m)
	}
}

// A generated password that was never shown (start-up failed first) is
// not left behind in the state directory.
func TestFailedStartTakesBackAnUnshownPassword(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := filepath.Join(t.TempDir(), "state")
	err = RunDev(context.Background(), DevOptions{StateDir: dir, AdminListen: busy.Addr().String(),
		ProxyListen: "127.0.0.1:0", Out: io.Discard, Log: logging.Nop()})
	if err == nil {
		t.Fatal("RunDev on a busy port succeeded")
	}
	if _, statErr := os.Stat(filepath.Join(dir, "admin_password")); !errors.Is(statErr, fs.ErrNotExist) {
		t.Fatalf("admin_password left behind after a failed start (stat: %v)", statErr)
	}
}
