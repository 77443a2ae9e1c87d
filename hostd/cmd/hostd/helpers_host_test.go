package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

type rebootCall struct {
	path string
	args []string
}

func fakeRebootDeps(euid int, present string, runErr error, calls *[]rebootCall) rebootDeps {
	return rebootDeps{
		euid:      func() int { return euid },
		systemctl: []string{"/usr/bin/systemctl", "/bin/systemctl"},
		exists:    func(p string) bool { return p == present },
		run: func(_ context.Context, path string, args []string) ([]byte, error) {
			*calls = append(*calls, rebootCall{path, args})
			return []byte("Failed to connect to bus"), runErr
		},
	}
}

func TestRebootHostRunsExactlySystemctlReboot(t *testing.T) {
	var calls []rebootCall
	var out bytes.Buffer
	fn := rebootHostHelper(fakeRebootDeps(0, "/bin/systemctl", nil, &calls))
	if err := fn(context.Background(), nil, strings.NewReader("ignored"), &out, &out); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].path != "/bin/systemctl" || len(calls[0].args) != 1 || calls[0].args[0] != "reboot" {
		t.Fatalf("calls %+v", calls)
	}
}

func TestRebootHostRefusesArgumentsAndNonRoot(t *testing.T) {
	var calls []rebootCall
	var out bytes.Buffer
	fn := rebootHostHelper(fakeRebootDeps(0, "/usr/bin/systemctl", nil, &calls))
	for _, args := range [][]string{{"--force"}, {"poweroff"}, {""}} {
		if err := fn(context.Background(), args, nil, &out, &out); !errors.Is(err, errUsage) {
			t.Fatalf("args %q: %v", args, err)
		}
	}
	fn = rebootHostHelper(fakeRebootDeps(1000, "/usr/bin/systemctl", nil, &calls))
	if err := fn(context.Background(), nil, nil, &out, &out); err == nil || !strings.Contains(err.Error(), "root") {
		t.Fatalf("non-root: %v", err)
	}
	fn = rebootHostHelper(fakeRebootDeps(0, "", nil, &calls))
	if err := fn(context.Background(), nil, nil, &out, &out); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("no systemctl: %v", err)
	}
	if len(calls) != 0 {
		t.Fatalf("ran %+v", calls)
	}
	fn = rebootHostHelper(fakeRebootDeps(0, "/usr/bin/systemctl", errors.New("exit status 1"), &calls))
	if err := fn(context.Background(), nil, nil, &out, &out); err == nil || !strings.Contains(err.Error(), "Failed to connect") {
		t.Fatalf("failure not surfaced: %v", err)
	}
}

func TestRebootHostIsRegistered(t *testing.T) {
	if _, ok := helpers()["reboot-host"]; !ok {
		t.Fatal("reboot-host is not a helper")
	}
}
