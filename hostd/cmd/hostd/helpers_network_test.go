package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
	"github.com/trustyclaw/trustyclaw/hostd/proxystate"
	"github.com/trustyclaw/trustyclaw/hostd/sudohelper"
)

// TestNetworkHelperProcess is not a test: it is the helper process the
// fake sudo below execs (the os/exec test-binary pattern).
func TestNetworkHelperProcess(t *testing.T) {
	if os.Getenv("HOSTD_NETWORK_HELPER_PROCESS") != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(context.Background(), args, os.Stdin, os.Stdout, os.Stderr))
}

// helperSudo is a sudohelper.Sudo whose "sudo" execs this test binary as
// `hostd helper NAME ARGS...` against stateDir.
func helperSudo(t *testing.T, stateDir string) *sudohelper.Sudo {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := fmt.Sprintf(`#!/bin/sh
[ "$1" = "-n" ] || exit 99
shift
name=$(basename "$1")
shift
exec env HOSTD_NETWORK_HELPER_PROCESS=1 %s=%q %q -test.run='^TestNetworkHelperProcess$' -- helper "$name" "$@"
`, helperStateDirEnv, stateDir, exe)
	if err := os.WriteFile(filepath.Join(dir, "sudo"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return &sudohelper.Sudo{Dir: "/usr/local/lib/trustyclaw/helpers", SudoPath: filepath.Join(dir, "sudo"), Timeout: 20 * time.Second}
}

// The host-mode client, through sudo, through the real hostd helper
// command, against a real state directory.
func TestNetworkHelpersEndToEndThroughSudoRunner(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	c := proxystate.NewHelperClient(helperSudo(t, state), func() bool { return true })

	doc, err := c.ReplacePolicy(ctx, []byte(`{"managed_ai_provider_network_access":{"openai":true},"allowed_network_access":{"API.GitHub.com":{"allow_http_methods":["GET"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Policy.Allowed["api.github.com"]; !ok || doc.UpdatedAt.IsZero() {
		t.Fatalf("doc %+v", doc)
	}
	got, err := c.ReadPolicy(ctx)
	if err != nil || !got.Policy.ProviderEnabled("openai") || !got.UpdatedAt.Equal(doc.UpdatedAt) {
		t.Fatalf("read %+v %v", got, err)
	}
	_, err = c.ReplacePolicy(ctx, []byte(`{"allowed_network_access":{"*.com":{"allow_http_methods":["GET"]}}}`))
	var ve *policy.ValidationError
	if !errors.As(err, &ve) || ve.Field != `allowed_network_access["*.com"]` {
		t.Fatalf("validation through the helper: %T %v", err, err)
	}
	if err := c.SetAccountPin(ctx, "openai", "acct-42"); err != nil {
		t.Fatal(err)
	}
	if pins, err := c.Pins(ctx); err != nil || pins.OpenAIAccountID != "acct-42" {
		t.Fatalf("pins %+v %v", pins, err)
	}
	if st, err := c.Status(ctx); err != nil || !st.Active() {
		t.Fatalf("status %+v %v", st, err)
	}
	evs, err := c.Events(ctx, 0, 5)
	if err != nil || len(evs) != 0 {
		t.Fatalf("events %+v %v", evs, err)
	}
	// What the helper wrote is exactly what the proxy enforces.
	comp, pins, err := proxystate.NewWatcher(proxystate.NewDir(state, nil)).Current()
	if err != nil || pins.OpenAIAccountID != "acct-42" {
		t.Fatal(err)
	}
	if d := comp.Decide(policy.Request{Scheme: "https", Method: "GET", Host: "api.github.com", Port: 443, HostHeader: "api.github.com", Target: "/"}, pins); !d.Allow {
		t.Fatalf("%+v", d)
	}
}

func TestNetworkHelpersBusyThroughSudoRunner(t *testing.T) {
	state := t.TempDir()
	f, err := os.OpenFile(filepath.Join(state, proxystate.PolicyLockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := flockEx(f); err != nil {
		t.Fatal(err)
	}
	c := proxystate.NewHelperClient(helperSudo(t, state), nil)
	if _, err := c.ReplacePolicy(context.Background(), []byte(`{"allowed_network_access":{}}`)); !errors.Is(err, netstate.ErrBusy) {
		t.Fatalf("got %v", err)
	}
}

func TestNetworkHelperCommandLine(t *testing.T) {
	state := t.TempDir()
	t.Setenv(helperStateDirEnv, state)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"helper", "read-network-state", "policy"}, strings.NewReader(""), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if got := strings.TrimSpace(out.String()); got != `{"policy":{"allowed_network_access":{}}}` {
		t.Fatalf("stdout %s", got)
	}
	out.Reset()
	errOut.Reset()
	code = run(context.Background(), []string{"helper", "read-network-state", "events", "0", "abc"}, strings.NewReader(""), &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "LIMIT must be") {
		t.Fatalf("exit %d stderr %q", code, errOut.String())
	}
	var we struct {
		Error struct{ Code string } `json:"error"`
	}
	if json.Unmarshal(out.Bytes(), &we) != nil || we.Error.Code != "invalid_argument" {
		t.Fatalf("stdout %q", out.String())
	}
	t.Setenv(helperStateDirEnv, filepath.Join(state, "missing"))
	if code := run(context.Background(), []string{"helper", "read-network-state", "status"}, strings.NewReader(""), &out, &errOut); code != 1 {
		t.Fatalf("missing state dir: exit %d", code)
	}
}

func TestNetworkHelperStateDirIsFixedUnderSudo(t *testing.T) {
	env := map[string]string{helperStateDirEnv: "/tmp/elsewhere"}
	cases := []struct {
		name       string
		euid       int
		testBin    bool
		env        map[string]string
		wantDir    string
		wantDemote bool
	}{
		{"root, production binary, override ignored", 0, false, env, proxyStateDir, true},
		{"root, production binary, no override", 0, false, nil, proxyStateDir, true},
		{"root inside a test binary may use the override", 0, true, env, "/tmp/elsewhere", false},
		{"non-root dev run with override", 1000, false, env, "/tmp/elsewhere", false},
		{"non-root without override", 1000, false, nil, proxyStateDir, false},
	}
	for _, tc := range cases {
		d := networkHelperDeps{
			euid:      func() int { return tc.euid },
			getenv:    func(k string) string { return tc.env[k] },
			inTestBin: func() bool { return tc.testBin },
		}
		dir, demote := d.stateDir()
		if dir != tc.wantDir || demote != tc.wantDemote {
			t.Errorf("%s: dir %q demote %v", tc.name, dir, demote)
		}
	}
}

func TestNetworkHelperDemotesBeforeTouchingState(t *testing.T) {
	var demoted bool
	deps := networkHelperDeps{
		euid:      func() int { return 0 },
		getenv:    func(string) string { return "" },
		inTestBin: func() bool { return false },
		demote:    func() error { demoted = true; return errors.New("no such user") },
	}
	var out, errOut bytes.Buffer
	err := networkHelper(proxystate.HelperReadState, deps)(context.Background(), []string{"policy"}, strings.NewReader(""), &out, &errOut)
	if !demoted || err == nil || !strings.Contains(err.Error(), "demote to trustyclaw-proxy") {
		t.Fatalf("demoted=%v err=%v", demoted, err)
	}
	// Still exactly one JSON object on stdout (docs/helpers.md), the error.
	var w struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	dec := json.NewDecoder(&out)
	if derr := dec.Decode(&w); derr != nil || w.Error.Code != "failed" || !strings.Contains(w.Error.Message, "demote") || dec.More() {
		t.Fatalf("stdout %q: %v %+v", out.String(), derr, w)
	}
}

func flockEx(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }
