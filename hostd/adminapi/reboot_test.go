package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRebootInLocalModeIs409(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Rebooter = LocalRebooter{} })
	r := h.do("POST", "/v1/host-runtime/reboot", "")
	mustStatus(t, r, http.StatusConflict)
	if msg := r.errMsg(t); msg != "reboot is not available in local mode" {
		t.Fatalf("message %q", msg)
	}
}

func TestRebootRunsAfterTheResponseAndNotOnReplay(t *testing.T) {
	h := newHarness(t)
	h.reboot.done = make(chan struct{}, 4)
	r := h.do("POST", "/v1/host-runtime/reboot", "", withKey("reboot-1"))
	mustStatus(t, r, http.StatusOK)
	if strings.TrimSpace(string(r.body)) != `{"status":"accepted"}` {
		t.Fatalf("body %s", r.body)
	}
	select {
	case <-h.reboot.done:
	case <-time.After(5 * time.Second):
		t.Fatal("no reboot")
	}
	if rec, ok := h.idem.get("reboot-1"); !ok || !rec.Done {
		t.Fatal("the idempotency record was not committed")
	}
	mustStatus(t, h.do("POST", "/v1/host-runtime/reboot", "", withKey("reboot-1")), http.StatusOK)
	if n := h.reboot.count(); n != 1 {
		t.Fatalf("rebooted %d times, want 1", n)
	}
	mustStatus(t, h.do("POST", "/v1/host-runtime/reboot", `{"now":true}`), http.StatusBadRequest)
}

type recordingRunner struct {
	calls []string
	err   error
}

func (r *recordingRunner) Run(_ context.Context, name string, args []string, stdin []byte) ([]byte, error) {
	r.calls = append(r.calls, fmt.Sprintf("%s %q %q", name, args, stdin))
	return nil, r.err
}

func TestHelperRebooterRunsRebootHostWithNothingElse(t *testing.T) {
	run := &recordingRunner{}
	hr := HelperRebooter{Runner: run}
	if err := hr.Available(); err != nil {
		t.Fatal(err)
	}
	if err := hr.Reboot(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(run.calls) != 1 || run.calls[0] != `reboot-host [] ""` {
		t.Fatalf("calls %q", run.calls)
	}
	run.err = errors.New("sudo: a password is required")
	if err := hr.Reboot(context.Background()); err == nil || !strings.Contains(err.Error(), "password is required") {
		t.Fatalf("failure not reported: %v", err)
	}
	if err := (HelperRebooter{}).Available(); err == nil {
		t.Fatal("an unconfigured helper is available")
	}
	if err := (LocalRebooter{}).Reboot(context.Background()); !errors.Is(err, ErrRebootUnavailable) {
		t.Fatal("local rebooter rebooted")
	}
}
