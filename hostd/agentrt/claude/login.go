package claude

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/agentproc"
)

// loginArgs: a Claude.ai subscription login.
var loginArgs = []string{"auth", "login", "--claudeai"}

// urlRE finds the browser URL the CLI prints.
var urlRE = regexp.MustCompile(`https://[^\s"'<>]+`)

// MaxCodeLen bounds the pasted browser code.
const MaxCodeLen = 4096

// loginFlow is a running `claude auth login`: it printed a URL and waits
// for the operator's code on stdin.
type loginFlow struct {
	proc *agentproc.Process
	info agentrt.LoginInfo

	mu        sync.Mutex
	submitted bool

	once sync.Once
	done chan struct{}
	err  error
}

// StartLogin implements agentrt.LoginAdapter: it starts `claude auth
// login`, reads the URL it prints and keeps the process waiting for the
// code until LoginTTL.
func (a *Adapter) StartLogin(ctx context.Context) (agentrt.LoginFlow, error) {
	p, err := a.opts.Starter.Start(ctx, agentproc.Spec{Runtime: agentrt.ClaudeCode, Args: loginArgs, HelperArgs: loginArgs})
	if err != nil {
		return nil, fmt.Errorf("start claude auth login: %w", err)
	}
	f := &loginFlow{proc: p, done: make(chan struct{})}
	urlCh := make(chan string, 1)
	go f.read(urlCh)
	sctx, cancel := context.WithTimeout(ctx, a.opts.StartTimeout)
	defer cancel()
	select {
	case u := <-urlCh:
		f.info = agentrt.LoginInfo{
			Status:    "awaiting_code",
			LoginURL:  u,
			ExpiresAt: a.opts.Now().Add(a.opts.LoginTTL),
		}
	case <-f.done:
		return nil, fmt.Errorf("claude auth login ended without printing a login URL: %w", f.err)
	case <-sctx.Done():
		f.end(errors.New("no login URL"))
		f.Close()
		return nil, fmt.Errorf("claude auth login printed no URL: %w", sctx.Err())
	}
	go f.expire(a.opts.LoginTTL)
	return f, nil
}

// read scans the CLI's output for the URL, then drains it; the flow ends
// when the process exits: success if it exits 0 after a code was given.
func (f *loginFlow) read(urlCh chan<- string) {
	lr := agentproc.NewLineReader(io.LimitReader(f.proc.Stdout, 1<<20), 64<<10)
	sent := false
	for {
		line, err := lr.Next()
		if err != nil && !errors.Is(err, agentproc.ErrLineTooLong) {
			break
		}
		if !sent {
			if u := urlRE.FindString(string(line)); u != "" && strings.Contains(u, "oauth") {
				urlCh <- u
				sent = true
			}
		}
	}
	_, _ = io.Copy(io.Discard, f.proc.Stdout)
	f.proc.Stdout.Close()
	err := f.proc.ExitErr()
	f.mu.Lock()
	submitted := f.submitted
	f.mu.Unlock()
	switch {
	case err == nil && submitted:
		f.end(nil)
	case err == nil:
		f.end(errors.New("claude auth login exited before a code was given"))
	default:
		f.end(fmt.Errorf("claude auth login failed (%v)", err))
	}
}

func (f *loginFlow) expire(ttl time.Duration) {
	t := time.NewTimer(ttl)
	defer t.Stop()
	select {
	case <-f.done:
	case <-t.C:
		f.end(errors.New("the login link expired"))
		f.kill()
	}
}

func (f *loginFlow) end(err error) {
	f.once.Do(func() {
		f.err = err
		close(f.done)
	})
}

func (f *loginFlow) kill() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = f.proc.Kill(ctx)
}

func (f *loginFlow) Info() agentrt.LoginInfo { return f.info }

// SubmitCode writes the operator's code to the waiting CLI. The code is
// never logged.
func (f *loginFlow) SubmitCode(ctx context.Context, code string) error {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > MaxCodeLen || strings.ContainsAny(code, "\r\n\x00") {
		return fmt.Errorf("the login code must be 1–%d characters on one line", MaxCodeLen)
	}
	select {
	case <-f.done:
		return fmt.Errorf("%w: the login already ended", agentrt.ErrLoginState)
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// A rejected code makes the CLI prompt again, so a second try is
	// allowed.
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := io.WriteString(f.proc.Stdin, code+"\n"); err != nil {
		return fmt.Errorf("write the code to claude auth login: %w", err)
	}
	f.submitted = true
	return nil
}

func (f *loginFlow) Done() <-chan struct{} { return f.done }

func (f *loginFlow) Err() error {
	<-f.done
	return f.err
}

// Close abandons the flow and returns after the process exited.
func (f *loginFlow) Close() {
	f.end(errors.New("login abandoned"))
	f.kill()
}
