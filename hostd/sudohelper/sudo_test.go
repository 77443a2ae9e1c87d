package sudohelper

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSudo builds a stand-in for sudo that checks for -n and execs the
// rest, and a helper directory with scripts.
func fakeSudo(t *testing.T, helpers map[string]string) *Sudo {
	t.Helper()
	dir := t.TempDir()
	write := func(path, body string) {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "sudo"), `[ "$1" = "-n" ] || { echo "sudo called without -n" >&2; exit 99; }
shift
exec "$@"`)
	hdir := filepath.Join(dir, "helpers")
	if err := os.Mkdir(hdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range helpers {
		write(filepath.Join(hdir, name), body)
	}
	return &Sudo{Dir: hdir, SudoPath: filepath.Join(dir, "sudo"), Timeout: 5 * time.Second}
}

func TestSudoRunsTheNamedHelperWithArgsAndStdin(t *testing.T) {
	s := fakeSudo(t, map[string]string{
		"echo-helper": `printf '%s|' "$0" "$@"; cat; printf '|%s' "${SECRET_ENV:-unset}"`,
	})
	t.Setenv("SECRET_ENV", "leaked")
	out, err := s.Run(context.Background(), "echo-helper", []string{"a b", "--x"}, []byte("from stdin"))
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(s.Dir, "echo-helper") + "|a b|--x|from stdin|unset"
	if string(out) != want {
		t.Fatalf("got %q\nwant %q", out, want)
	}
}

func TestSudoFailureCarriesExitCodeStderrAndStdout(t *testing.T) {
	s := fakeSudo(t, map[string]string{
		"fail": `echo '{"error":{"code":"busy"}}'; echo "something went wrong" >&2; i=0; while [ $i -lt 300 ]; do printf 'xxxxxxxxxx' >&2; i=$((i+1)); done; exit 3`,
	})
	_, err := s.Run(context.Background(), "fail", nil, nil)
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("got %T %v", err, err)
	}
	if ee.Code != 3 || !strings.HasPrefix(ee.Stderr, "something went wrong") || len(ee.Stderr) > maxStderrInError {
		t.Fatalf("exit error %+v", ee)
	}
	if strings.TrimSpace(string(ee.Stdout)) != `{"error":{"code":"busy"}}` {
		t.Fatalf("stdout %q", ee.Stdout)
	}
	if !strings.Contains(err.Error(), "helper fail exited with status 3") {
		t.Fatalf("message %q", err)
	}
}

func TestSudoCapsStdout(t *testing.T) {
	s := fakeSudo(t, map[string]string{"big": `yes 0123456789 | head -c 100000`})
	s.MaxStdout = 1000
	if _, err := s.Run(context.Background(), "big", nil, nil); !errors.Is(err, ErrOutputTooLarge) {
		t.Fatalf("got %v", err)
	}
	s.MaxStdout = 200000
	out, err := s.Run(context.Background(), "big", nil, nil)
	if err != nil || len(out) != 100000 {
		t.Fatalf("%d bytes, %v", len(out), err)
	}
}

func TestSudoTimesOutAndStopsTheHelper(t *testing.T) {
	s := fakeSudo(t, map[string]string{"slow": `exec sleep 30`})
	s.Timeout = 200 * time.Millisecond
	start := time.Now()
	_, err := s.Run(context.Background(), "slow", nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Run(ctx, "slow", nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
}

func TestSudoRefusesPathsAsNames(t *testing.T) {
	s := fakeSudo(t, nil)
	for _, name := range []string{"", "../bin/sh", "/bin/sh", "a/b", "-n", "UPPER", "x y", strings.Repeat("a", 65)} {
		if _, err := s.Run(context.Background(), name, nil, nil); err == nil || !strings.Contains(err.Error(), "invalid helper name") {
			t.Errorf("name %q: %v", name, err)
		}
	}
}

func TestMissingHelperIsAnExitError(t *testing.T) {
	s := fakeSudo(t, nil)
	_, err := s.Run(context.Background(), "absent", nil, nil)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code == 0 {
		t.Fatalf("got %v", err)
	}
}
