package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/internal/devproc"
)

// TestDevCommandContract pins local-mode.md's command-line contract:
// listen.json, the published CA, the generated password (0600, printed
// once), health, a clean SIGTERM exit and state kept across restarts.
func TestDevCommandContract(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs hostd dev")
	}
	state := filepath.Join(t.TempDir(), "state")
	ctx := context.Background()

	// First start: no TRUSTYCLAW_ADMIN_PASSWORD → generated and printed.
	p := devproc.Start(t, devproc.Options{StateDir: state, GeneratePassword: true})
	pwFile := filepath.Join(state, "admin_password")
	info, err := os.Stat(pwFile)
	if err != nil {
		t.Fatalf("admin_password: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("admin_password mode %v, want 0600", info.Mode().Perm())
	}
	if !strings.Contains(p.Output(), p.Password) {
		t.Errorf("generated password not printed on first start")
	}
	if st, err := os.Stat(state); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode: %v %v", st.Mode().Perm(), err)
	}
	ca, err := os.ReadFile(filepath.Join(state, "proxy-ca.crt"))
	if err != nil || !strings.Contains(string(ca), "BEGIN CERTIFICATE") {
		t.Errorf("proxy-ca.crt: %v %q", err, ca)
	}
	var l map[string]string
	data, _ := os.ReadFile(filepath.Join(state, "listen.json"))
	if err := json.Unmarshal(data, &l); err != nil || l["admin"] != p.Admin || l["proxy"] != p.Proxy {
		t.Errorf("listen.json = %s (%v), want admin %s proxy %s", data, err, p.Admin, p.Proxy)
	}
	code, body, err := p.Do(ctx, "POST", "/v1/tasks", map[string]string{
		"agent_runtime": "codex", "thread_id": "t1", "input_message": "hello"})
	if err != nil || code != http.StatusOK {
		t.Fatalf("create task: %d %s %v", code, body, err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("SIGTERM exit: %v\n%s", err, p.Output())
	}

	// Second start on the same dir: same password (not printed), task kept.
	p2 := devproc.Start(t, devproc.Options{StateDir: state, GeneratePassword: true})
	if p2.Password != p.Password {
		t.Errorf("password changed across restarts")
	}
	if strings.Contains(p2.Output(), p.Password) {
		t.Errorf("password printed again on a later start")
	}
	code, body, err = p2.Do(ctx, "GET", "/v1/tasks", nil)
	if err != nil || code != http.StatusOK || !strings.Contains(string(body), `"thread_id":"t1"`) {
		t.Errorf("tasks after restart: %d %s %v", code, body, err)
	}
}
