// Package sudohelper runs TrustyClaw's fixed root-owned helpers through
// `sudo -n` on the admin service's behalf, and lets a helper demote itself
// to the service user whose state it touches.
//
// It owns only the mechanics: a fixed helper directory, a bare helper name
// (no paths), a timeout, a cap on stdout, and a short stderr in errors. It
// must never pass secrets on argv (argv is visible in ps; use stdin), never
// read a helper's output without a bound, and never choose a helper path
// from input.
package sudohelper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Runner runs one helper by name with args and stdin, returning its stdout.
// A helper that ran but failed gives an *ExitError (with its stdout, which
// may carry a structured error).
type Runner interface {
	Run(ctx context.Context, name string, args []string, stdin []byte) ([]byte, error)
}

// RunnerFunc adapts a function to Runner (tests, in-process helpers).
type RunnerFunc func(ctx context.Context, name string, args []string, stdin []byte) ([]byte, error)

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, name string, args []string, stdin []byte) ([]byte, error) {
	return f(ctx, name, args, stdin)
}

// Defaults for Sudo.
const (
	DefaultDir       = "/usr/local/lib/trustyclaw/helpers"
	DefaultTimeout   = 30 * time.Second
	DefaultMaxStdout = 16 << 20
	maxStderrInError = 2048
	// terminateGrace is how long a helper has to exit after SIGTERM
	// (which sudo relays) before sudo itself is killed and pipes closed.
	terminateGrace = 3 * time.Second
)

// ErrOutputTooLarge: the helper wrote more than MaxStdout bytes.
var ErrOutputTooLarge = errors.New("helper output exceeds the limit")

// ExitError is a helper that ran and exited non-zero.
type ExitError struct {
	Helper string
	Code   int
	Stderr string // trimmed, at most ~2 KiB
	Stdout []byte
}

func (e *ExitError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("helper %s exited with status %d", e.Helper, e.Code)
	}
	return fmt.Sprintf("helper %s exited with status %d: %s", e.Helper, e.Code, e.Stderr)
}

// Sudo runs `sudo -n <Dir>/<name> args...`.
type Sudo struct {
	Dir       string        // helper directory (default DefaultDir)
	SudoPath  string        // sudo binary (default "sudo"); tests point it at a stand-in
	Timeout   time.Duration // per run (default DefaultTimeout); the ctx deadline also applies
	MaxStdout int64         // default DefaultMaxStdout
}

var _ Runner = (*Sudo)(nil)

// Run implements Runner.
func (s *Sudo) Run(ctx context.Context, name string, args []string, stdin []byte) ([]byte, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	dir, sudo, timeout, maxOut := s.Dir, s.SudoPath, s.Timeout, s.MaxStdout
	if dir == "" {
		dir = DefaultDir
	}
	if sudo == "" {
		sudo = "sudo"
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if maxOut <= 0 {
		maxOut = DefaultMaxStdout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, sudo, append([]string{"-n", filepath.Join(dir, name)}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	cmd.Stdin = bytes.NewReader(stdin)
	stdout := &cappedBuffer{max: maxOut}
	stderr := &cappedBuffer{max: maxStderrInError, truncate: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// sudo relays SIGTERM to the helper; SIGKILL would orphan it.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = terminateGrace
	stdout.onOverflow = cancel

	err := cmd.Run()
	switch {
	case stdout.overflow:
		return nil, fmt.Errorf("run helper %s: %w (%d bytes)", name, ErrOutputTooLarge, maxOut)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("run helper %s: %w", name, ctx.Err())
	case err == nil:
		return stdout.buf.Bytes(), nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil, &ExitError{Helper: name, Code: ee.ExitCode(), Stderr: string(bytes.TrimSpace(stderr.buf.Bytes())), Stdout: stdout.buf.Bytes()}
	}
	return nil, fmt.Errorf("run helper %s: %w", name, err)
}

// ValidName accepts bare helper names: lower-case letters, digits and
// '-', not starting with '-', at most 64 bytes.
func ValidName(name string) error {
	if name == "" || len(name) > 64 || name[0] == '-' {
		return fmt.Errorf("invalid helper name %q", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return fmt.Errorf("invalid helper name %q", name)
		}
	}
	return nil
}

// cappedBuffer keeps at most max bytes. With truncate it silently keeps
// the first max bytes (stderr); otherwise overflowing marks it and calls
// onOverflow so the run is stopped (stdout).
type cappedBuffer struct {
	buf        bytes.Buffer
	max        int64
	truncate   bool
	overflow   bool
	onOverflow func()
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	room := b.max - int64(b.buf.Len())
	if int64(len(p)) <= room {
		return b.buf.Write(p)
	}
	if room > 0 {
		b.buf.Write(p[:room])
	}
	if b.truncate {
		return len(p), nil
	}
	if !b.overflow {
		b.overflow = true
		if b.onOverflow != nil {
			b.onOverflow()
		}
	}
	return 0, ErrOutputTooLarge
}
