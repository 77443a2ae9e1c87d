// Package devproc runs `hostd dev` as a real subprocess for tests: it
// builds the binary once per test process (with the race detector when the
// test itself runs with it), starts it on port 0 in a state directory,
// waits until the API is healthy, and offers a small authenticated client.
// It is test support only; no product code imports it.
package devproc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// HostdBinEnv names a prebuilt hostd that Build returns instead of
// compiling the tree (e.g. to benchmark an older build side by side).
const HostdBinEnv = "TRUSTYCLAW_DEVPROC_HOSTD"

// Build compiles hostd once per test process and returns its path.
func Build(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(HostdBinEnv); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hostd-devproc-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "hostd")
		args := []string{"build", "-o", buildPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/trustyclaw/trustyclaw/hostd/cmd/hostd")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build hostd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Options start one hostd dev.
type Options struct {
	// StateDir is reused across restarts; required.
	StateDir string
	// Password is passed as TRUSTYCLAW_ADMIN_PASSWORD; empty makes a
	// random one, unless GeneratePassword is set.
	Password string
	// GeneratePassword leaves TRUSTYCLAW_ADMIN_PASSWORD unset so hostd
	// generates (or reuses) <state-dir>/admin_password.
	GeneratePassword bool
	// Args are extra `hostd dev` flags (--codex-bin, --dev-upstream, …).
	Args []string
	// Env is extra environment for hostd itself (not the agents).
	Env []string
	// ReadyTimeout bounds start-up (default 60 s).
	ReadyTimeout time.Duration
	// ReadyPoll is how often start-up checks for health (default 20 ms;
	// start-up benchmarks poll faster).
	ReadyPoll time.Duration
}

// Proc is one running hostd dev.
type Proc struct {
	StateDir string
	Password string
	Admin    string // host:port
	Proxy    string // host:port

	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan struct{}
	err    error
	client *http.Client
}

// Start runs hostd dev and waits until GET /v1/health answers 200. The
// process is killed at test cleanup if still running.
func Start(t testing.TB, o Options) *Proc {
	t.Helper()
	p, err := start(Build(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	return p
}

func start(bin string, o Options) (*Proc, error) {
	if o.StateDir == "" {
		return nil, errors.New("devproc: StateDir is required")
	}
	if o.Password == "" && !o.GeneratePassword {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		o.Password = "test-" + hex.EncodeToString(b)
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	if o.ReadyPoll <= 0 {
		o.ReadyPoll = 20 * time.Millisecond
	}
	listenPath := filepath.Join(o.StateDir, "listen.json")
	if err := os.Remove(listenPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	args := append([]string{"dev", "--state-dir", o.StateDir,
		"--admin-listen", "127.0.0.1:0", "--proxy-listen", "127.0.0.1:0"}, o.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + o.StateDir,
		"GORACE=halt_on_error=1",
	}, o.Env...)
	if !o.GeneratePassword {
		cmd.Env = append(cmd.Env, "TRUSTYCLAW_ADMIN_PASSWORD="+o.Password)
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start hostd dev: %w", err)
	}
	p := &Proc{StateDir: o.StateDir, Password: o.Password, cmd: cmd, out: out,
		done: make(chan struct{}), client: &http.Client{Timeout: 30 * time.Second}}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	pwPath := filepath.Join(o.StateDir, "admin_password")

	deadline := time.Now().Add(o.ReadyTimeout)
	for {
		select {
		case <-p.done:
			return nil, fmt.Errorf("hostd dev exited during start-up (%v):\n%s", p.err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			p.Kill()
			return nil, fmt.Errorf("hostd dev not healthy within %s:\n%s", o.ReadyTimeout, out.String())
		}
		if p.Admin == "" {
			if data, err := os.ReadFile(listenPath); err == nil {
				var l struct{ Admin, Proxy string }
				if json.Unmarshal(data, &l) == nil && l.Admin != "" {
					p.Admin, p.Proxy = l.Admin, l.Proxy
				}
			}
		}
		if p.Password == "" {
			if data, err := os.ReadFile(pwPath); err == nil {
				p.Password = strings.TrimSpace(string(data))
			}
		}
		if p.Admin != "" && p.Password != "" {
			if st, _, err := p.Do(context.Background(), "GET", "/v1/health", nil); err == nil && st == http.StatusOK {
				return p, nil
			}
		}
		time.Sleep(o.ReadyPoll)
	}
}

// Output is everything hostd printed so far (stdout and stderr).
func (p *Proc) Output() string { return p.out.String() }

// PID of the hostd process.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL and waits for the exit.
func (p *Proc) Kill() { p.signal(syscall.SIGKILL) }

// Stop sends SIGTERM and waits for a clean exit; it returns the exit error.
func (p *Proc) Stop() error { p.signal(syscall.SIGTERM); return p.err }

func (p *Proc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Do sends one authenticated API request. Mutating methods get a fresh
// Idempotency-Key unless the caller set one with DoKey.
func (p *Proc) Do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	key := ""
	if method != http.MethodGet && method != http.MethodHead {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		key = hex.EncodeToString(b)
	}
	return p.DoKey(ctx, method, path, body, key)
}

// DoKey is Do with an explicit Idempotency-Key (empty sends none).
func (p *Proc) DoKey(ctx context.Context, method, path string, body any, key string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case []byte:
			rd = bytes.NewReader(b)
		case string:
			rd = strings.NewReader(b)
		default:
			data, err := json.Marshal(b)
			if err != nil {
				return 0, nil, err
			}
			rd = bytes.NewReader(data)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+p.Admin+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.Password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
