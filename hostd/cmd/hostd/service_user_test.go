package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tests run as root on CI machines; the service commands are exercised as
// the unprivileged user they run as on a host.
func TestMain(m *testing.M) {
	serviceEUID = func() int { return 47742 }
	os.Exit(m.Run())
}

// As root, both host services refuse to start, as usage errors, before
// they touch any state.
func TestHostServicesRefuseRoot(t *testing.T) {
	serviceEUID = func() int { return 0 }
	defer func() { serviceEUID = func() int { return 47742 } }()
	dir := filepath.Join(t.TempDir(), "state")
	for name, run := range map[string]func() error{
		"proxy": func() error {
			return runProxy(context.Background(), []string{"--state-dir", dir, "--listen", "127.0.0.1:0"}, nil, io.Discard, io.Discard)
		},
		"proxy --print-ca-cert": func() error {
			return runProxy(context.Background(), []string{"--state-dir", dir, "--print-ca-cert"}, nil, io.Discard, io.Discard)
		},
		"admin-api": func() error {
			return runAdminAPI(context.Background(), []string{"--agent-name", "a", "--state-dir", dir, "--listen", "127.0.0.1:0"}, nil, io.Discard, io.Discard)
		},
	} {
		err := run()
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "as root") {
			t.Errorf("%s as root: %v, want a usage error about root", name, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir touched before the refusal: %v", err)
	}
}
