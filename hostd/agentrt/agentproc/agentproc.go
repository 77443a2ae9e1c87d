// Package agentproc starts agent CLI processes and owns their lifetime:
// each process runs in its own process group, is killed as a group, and
// is always reaped. It also frames the CLIs' stdout into bounded lines.
//
// It never builds an environment itself (package agentenv does) and never
// inherits hostd's: a Starter is handed the complete environment.
package agentproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// Spec says what to start: which runtime, and the CLI arguments after the
// binary (for Codex "app-server" plus "-c" overrides, for Claude the -p
// flags).
type Spec struct {
	Runtime agentrt.Type
	Args    []string
	// HelperArgs are what the host-mode helper gets instead of Args: the
	// helper builds the fixed part of the command line itself and accepts
	// only a narrow, validated set (docs/helpers.md).
	HelperArgs []string
}

// Starter starts agent processes. Dev mode execs the CLI binary directly;
// host mode goes through the sudo helpers.
type Starter interface {
	Start(ctx context.Context, spec Spec) (*Process, error)
}

// Process is one running agent CLI.
type Process struct {
	Stdin  io.WriteCloser
	Stdout io.ReadCloser

	cmd     *exec.Cmd
	pgid    int
	stderr  *tailBuffer
	done    chan struct{}
	waitErr error
	// killGrace: after stdin is closed, how long a Kill waits before
	// signalling the group (host mode, where the helper does the killing).
	killGrace time.Duration
	killSig   syscall.Signal
	closeOnce sync.Once
}

// start runs cmd in a new process group with pipes on all three streams.
// The pipes are made here rather than with cmd.StdoutPipe because exec
// closes its own pipes when Wait returns, which would lose the last lines
// a CLI writes just before it exits (Claude's final result, for one); and
// because exec's Wait would otherwise also wait for every grandchild that
// still holds stderr. When the CLI exits, the rest of its process group
// (tools it left running) is killed at once, so no grandchild can hold
// the output pipes open.
func start(cmd *exec.Cmd) (*Process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var files []*os.File // parent ends, closed on failure
	var childEnds []*os.File
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	fail := func(err error) (*Process, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, err
	}
	inR, inW, err := pipe()
	if err != nil {
		return fail(fmt.Errorf("stdin pipe: %w", err))
	}
	outR, outW, err := pipe()
	if err != nil {
		return fail(fmt.Errorf("stdout pipe: %w", err))
	}
	errR, errW, err := pipe()
	if err != nil {
		return fail(fmt.Errorf("stderr pipe: %w", err))
	}
	childEnds = append(childEnds, inR, outW, errW)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("start %s: %w", cmd.Path, err))
	}
	for _, f := range childEnds {
		f.Close()
	}
	tail := newTailBuffer(4 << 10)
	p := &Process{
		Stdin:   inW,
		Stdout:  outR,
		cmd:     cmd,
		pgid:    cmd.Process.Pid,
		stderr:  tail,
		done:    make(chan struct{}),
		killSig: syscall.SIGKILL,
	}
	go func() {
		_, _ = io.Copy(tail, errR)
		errR.Close()
	}()
	go func() {
		p.waitErr = cmd.Wait()
		p.killGroupRemnants()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id (also its process group id).
func (p *Process) Pid() int { return p.pgid }

// Done is closed once the process has exited and was reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr is how the process ended; valid after Done.
func (p *Process) ExitErr() error {
	<-p.done
	return p.waitErr
}

// StderrTail returns the last few KiB the process wrote to stderr, for
// logs (never shown to the operator as is: it may name local paths).
func (p *Process) StderrTail() string { return p.stderr.String() }

// CloseStdin closes the process's stdin (the CLIs' signal to finish).
func (p *Process) CloseStdin() {
	p.closeOnce.Do(func() { _ = p.Stdin.Close() })
}

// Kill terminates the whole process group and returns after the process
// was reaped, or ctx ends. Safe to call more than once and after exit.
func (p *Process) Kill(ctx context.Context) error {
	p.CloseStdin()
	if p.killGrace > 0 {
		select {
		case <-p.done:
			return nil
		case <-time.After(p.killGrace):
		case <-ctx.Done():
			return fmt.Errorf("kill process %d: %w", p.pgid, ctx.Err())
		}
	}
	select {
	case <-p.done:
		p.killGroupRemnants()
		return nil
	default:
	}
	if err := syscall.Kill(-p.pgid, p.killSig); err != nil && !errors.Is(err, syscall.ESRCH) && !errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("kill process group %d: %w", p.pgid, err)
	}
	select {
	case <-p.done:
		p.killGroupRemnants()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for process %d to exit: %w", p.pgid, ctx.Err())
	}
}

// Stop closes stdin and gives the process grace to exit by itself, then
// kills the group.
func (p *Process) Stop(ctx context.Context, grace time.Duration) error {
	p.CloseStdin()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		p.killGroupRemnants()
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return p.Kill(kctx)
}

// killGroupRemnants kills children the CLI left behind in its group after
// it exited itself (a tool a turn started, for instance).
func (p *Process) killGroupRemnants() {
	_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
}

// GroupAlive reports whether any process of the group still exists.
func GroupAlive(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// DevStarter execs the CLI binaries directly (dev mode) with a prepared
// environment and working directory.
type DevStarter struct {
	// Bins maps each runtime to its CLI binary.
	Bins map[agentrt.Type]string
	// Env returns the complete environment for a runtime (agentenv.Build).
	Env func(rt agentrt.Type) ([]string, error)
	// Dir is the working directory (the agent home).
	Dir string
}

// Start implements Starter.
func (s DevStarter) Start(ctx context.Context, spec Spec) (*Process, error) {
	bin := s.Bins[spec.Runtime]
	if bin == "" {
		return nil, fmt.Errorf("no %s binary configured", spec.Runtime)
	}
	env, err := s.Env(spec.Runtime)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create agent home: %w", err)
	}
	cmd := exec.Command(bin, spec.Args...)
	cmd.Env = env
	cmd.Dir = s.Dir
	return start(cmd)
}

// HelperStarter starts the CLIs through the root-owned helpers with
// `sudo -n HELPER ARGS…` (host mode). The admin user cannot signal the
// demoted CLI, so Kill closes stdin — the helper's order to kill the CLI's
// group — and only then signals what it may.
type HelperStarter struct {
	// Sudo is the sudo binary (default "sudo").
	Sudo string
	// Helpers maps each runtime to its helper wrapper path
	// (run-codex-app-server, run-claude-code).
	Helpers map[agentrt.Type]string
	// KillGrace bounds how long Kill waits, after closing stdin, for the
	// helper to end the CLI (it kills the group 5 s after stdin ends)
	// before signalling what it may itself (default 6 s).
	KillGrace time.Duration
}

// Start implements Starter.
func (s HelperStarter) Start(ctx context.Context, spec Spec) (*Process, error) {
	helper := s.Helpers[spec.Runtime]
	if helper == "" {
		return nil, fmt.Errorf("no helper configured for %s", spec.Runtime)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sudo := s.Sudo
	if sudo == "" {
		sudo = "sudo"
	}
	cmd := exec.Command(sudo, append([]string{"-n", helper}, spec.HelperArgs...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	cmd.Dir = "/"
	p, err := start(cmd)
	if err != nil {
		return nil, err
	}
	p.killGrace = s.KillGrace
	if p.killGrace == 0 {
		p.killGrace = 6 * time.Second
	}
	p.killSig = syscall.SIGTERM
	return p, nil
}

// tailBuffer keeps the last n bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	n   int
	buf []byte
}

func newTailBuffer(n int) *tailBuffer { return &tailBuffer{n: n} }

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.n {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.n:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
