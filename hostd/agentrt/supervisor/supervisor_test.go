package supervisor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

type fakeAdapter struct {
	t agentrt.Type

	mu       sync.Mutex
	loggedIn bool
	probeErr error
	probes   int
	flow     *fakeFlow
}

func (f *fakeAdapter) Type() agentrt.Type { return f.t }
func (f *fakeAdapter) Probe(context.Context) (agentrt.ProbeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probes++
	return agentrt.ProbeResult{LoggedIn: f.loggedIn}, f.probeErr
}
func (f *fakeAdapter) StartTurn(context.Context, agentrt.TurnRequest) (agentrt.Turn, error) {
	return nil, errors.New("not here")
}
func (f *fakeAdapter) CloseAll(context.Context) error { return nil }
func (f *fakeAdapter) StartLogin(context.Context) (agentrt.LoginFlow, error) {
	fl := &fakeFlow{a: f, done: make(chan struct{})}
	f.mu.Lock()
	f.flow = fl
	f.mu.Unlock()
	return fl, nil
}
func (f *fakeAdapter) set(loggedIn bool, err error) {
	f.mu.Lock()
	f.loggedIn, f.probeErr = loggedIn, err
	f.mu.Unlock()
}
func (f *fakeAdapter) probeCount() int { f.mu.Lock(); defer f.mu.Unlock(); return f.probes }

type fakeFlow struct {
	a      *fakeAdapter
	once   sync.Once
	done   chan struct{}
	err    error
	closed atomic.Bool
}

func (f *fakeFlow) Info() agentrt.LoginInfo {
	return agentrt.LoginInfo{Status: "awaiting_code", LoginURL: "https://login.example/x"}
}
func (f *fakeFlow) SubmitCode(_ context.Context, code string) error {
	if code == "good" {
		f.a.set(true, nil)
		f.finish(nil)
		return nil
	}
	return errors.New("bad code")
}
func (f *fakeFlow) finish(err error)      { f.once.Do(func() { f.err = err; close(f.done) }) }
func (f *fakeFlow) Done() <-chan struct{} { return f.done }
func (f *fakeFlow) Err() error            { <-f.done; return f.err }
func (f *fakeFlow) Close()                { f.closed.Store(true); f.finish(errors.New("closed")) }

type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(s string) { j.mu.Lock(); j.lines = append(j.lines, s); j.mu.Unlock() }
func (j *journal) all() string  { j.mu.Lock(); defer j.mu.Unlock(); return strings.Join(j.lines, "\n") }
func (j *journal) AppendRuntimeEvent(_ context.Context, typ string, rt agentrt.Type) error {
	j.add("event " + typ + " " + string(rt))
	return nil
}
func (j *journal) SetAccountPin(_ context.Context, provider, value string) error {
	j.add("pin " + provider + "=" + value)
	return nil
}
func (j *journal) RuntimeStatusChanged(t agentrt.Type, from, to agentrt.Status) {
	j.add(fmt.Sprintf("status %s %s->%s", t, from, to))
}
func (j *journal) ReadAccount(_ context.Context, t agentrt.Type) (agentrt.Account, error) {
	if t == agentrt.Codex {
		return agentrt.Account{AccountID: "acc-123"}, nil
	}
	return agentrt.Account{AccountID: "uuid-1", TokenSHA256: "abc123"}, nil
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func setup(t *testing.T) (*Supervisor, map[agentrt.Type]*fakeAdapter, *journal, *clock, string) {
	t.Helper()
	codex := &fakeAdapter{t: agentrt.Codex, loggedIn: true}
	claude := &fakeAdapter{t: agentrt.ClaudeCode}
	j := &journal{}
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s, err := New(Options{
		Adapters: map[agentrt.Type]agentrt.LoginAdapter{agentrt.Codex: codex, agentrt.ClaudeCode: claude},
		Accounts: j, Pins: j, Events: j, Listener: j,
		StateDir: dir, Now: c.Now, Log: logging.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, map[agentrt.Type]*fakeAdapter{agentrt.Codex: codex, agentrt.ClaudeCode: claude}, j, c, dir
}

func TestProvidersOnProbeToActiveOrAwaitingLogin(t *testing.T) {
	s, _, j, _, _ := setup(t)
	ctx := context.Background()
	s.ProvidersChanged(ctx, map[string]bool{"openai": true, "claude": true})
	s.Poll(ctx)
	if got := s.State(agentrt.Codex).Status; got != agentrt.StatusActive {
		t.Errorf("codex %s", got)
	}
	if got := s.State(agentrt.ClaudeCode).Status; got != agentrt.StatusAwaitingLogin {
		t.Errorf("claude %s", got)
	}
	log := j.all()
	for _, want := range []string{
		"status codex deactivated->loading", "status codex loading->active", "event agent_runtime.active codex",
		"pin openai=acc-123", "status claude_code loading->awaiting_login",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("missing %q in\n%s", want, log)
		}
	}
	if accs := s.Accounts(ctx); accs[0].Account.AccountID != "acc-123" {
		t.Errorf("accounts %+v", accs)
	}
}

func TestProbeErrorIsErrorStatusWithMessage(t *testing.T) {
	s, ad, _, _, _ := setup(t)
	ad[agentrt.Codex].set(false, errors.New("codex: exec format error"))
	s.ProvidersChanged(context.Background(), map[string]bool{"openai": true})
	s.Poll(context.Background())
	st := s.State(agentrt.Codex)
	if st.Status != agentrt.StatusError || !strings.Contains(st.ErrorMessage, "exec format error") {
		t.Fatalf("state %+v", st)
	}
}

// An active runtime is re-probed only after the poll interval, and an
// expired login then shows as awaiting_login.
func TestPollerReprobesActiveEveryFiveMinutes(t *testing.T) {
	s, ad, j, c, _ := setup(t)
	ctx := context.Background()
	s.ProvidersChanged(ctx, map[string]bool{"openai": true})
	s.Poll(ctx)
	n := ad[agentrt.Codex].probeCount()
	c.add(4 * time.Minute)
	s.Poll(ctx)
	if ad[agentrt.Codex].probeCount() != n {
		t.Fatal("re-probed before 5 minutes")
	}
	ad[agentrt.Codex].set(false, nil)
	c.add(time.Minute)
	s.Poll(ctx)
	if ad[agentrt.Codex].probeCount() != n+1 || s.State(agentrt.Codex).Status != agentrt.StatusAwaitingLogin {
		t.Fatalf("probes %d, state %+v", ad[agentrt.Codex].probeCount(), s.State(agentrt.Codex))
	}
	if !strings.Contains(j.all(), "status codex active->awaiting_login") {
		t.Error("listener not told of leaving active")
	}
}

// Turning a provider off deactivates its runtime, clears its pin, emits
// the event and tells the listener; its login flow is abandoned.
func TestProviderOffDeactivatesAndClearsPin(t *testing.T) {
	s, ad, j, _, _ := setup(t)
	ctx := context.Background()
	s.ProvidersChanged(ctx, map[string]bool{"openai": true, "claude": true})
	s.Poll(ctx)
	if _, err := s.StartLogin(ctx, agentrt.ClaudeCode); err != nil {
		t.Fatal(err)
	}
	s.ProvidersChanged(ctx, map[string]bool{"openai": false, "claude": false})
	for _, rt := range agentrt.Types {
		if s.State(rt).Status != agentrt.StatusDeactivated {
			t.Errorf("%s: %+v", rt, s.State(rt))
		}
	}
	log := j.all()
	for _, want := range []string{"pin openai=", "pin claude=", "event agent_runtime.deactivated codex", "status codex active->deactivated", "event agent_runtime.deactivated claude_code"} {
		if !strings.Contains(log, want+"\n") && !strings.HasSuffix(log, want) {
			t.Errorf("missing %q in\n%s", want, log)
		}
	}
	if !ad[agentrt.ClaudeCode].flow.closed.Load() {
		t.Error("login flow not abandoned")
	}
	if _, err := s.StartLogin(ctx, agentrt.ClaudeCode); !errors.Is(err, agentrt.ErrLoginState) {
		t.Errorf("login while deactivated: %v", err)
	}
	s.Poll(ctx)
	if ad[agentrt.Codex].probeCount() != 1 {
		t.Error("deactivated runtime probed")
	}
}

func TestLoginRoutesNeedAwaitingLogin(t *testing.T) {
	s, _, _, _, _ := setup(t)
	ctx := context.Background()
	s.ProvidersChanged(ctx, map[string]bool{"openai": true})
	s.Poll(ctx)
	if _, err := s.StartLogin(ctx, agentrt.Codex); !errors.Is(err, agentrt.ErrLoginState) {
		t.Errorf("login while active: %v", err)
	}
	if _, err := s.CurrentLogin(ctx, agentrt.ClaudeCode); !errors.Is(err, agentrt.ErrLoginState) {
		t.Errorf("current while deactivated: %v", err)
	}
	if _, err := s.CompleteLogin(ctx, agentrt.Codex, "x"); !errors.Is(err, agentrt.ErrNotSupported) {
		t.Errorf("complete on codex: %v", err)
	}
}

// Completing a login pins the account and emits login_completed then
// active; the metadata survives a restart.
func TestLoginCompletionPinsAndEmitsInOrder(t *testing.T) {
	s, _, j, _, dir := setup(t)
	ctx := context.Background()
	s.ProvidersChanged(ctx, map[string]bool{"claude": true})
	s.Poll(ctx)
	info, err := s.StartLogin(ctx, agentrt.ClaudeCode)
	if err != nil || info.LoginURL == "" {
		t.Fatalf("start: %+v %v", info, err)
	}
	if cur, err := s.CurrentLogin(ctx, agentrt.ClaudeCode); err != nil || cur.LoginURL != info.LoginURL {
		t.Fatalf("current: %+v %v", cur, err)
	}
	if _, err := s.CompleteLogin(ctx, agentrt.ClaudeCode, "bad"); err == nil {
		t.Fatal("bad code accepted")
	}
	res, err := s.CompleteLogin(ctx, agentrt.ClaudeCode, "good")
	if err != nil || res.Status != string(agentrt.StatusActive) {
		t.Fatalf("complete: %+v %v", res, err)
	}
	log := j.all()
	iPin := strings.Index(log, "pin claude=abc123")
	iDone := strings.Index(log, "event agent_runtime.login_completed claude_code")
	iActive := strings.Index(log, "event agent_runtime.active claude_code")
	if iPin < 0 || iDone < 0 || iActive < 0 || !(iPin < iDone && iDone < iActive) {
		t.Fatalf("order pin %d, login_completed %d, active %d in\n%s", iPin, iDone, iActive, log)
	}
	s2, err := New(Options{StateDir: dir, Log: logging.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if acc := s2.Accounts(ctx)[1].Account; acc.TokenSHA256 != "abc123" || acc.AccountID != "uuid-1" {
		t.Errorf("stored accounts after restart: %+v", acc)
	}
}

// A runtime in error is retried at the poll interval, not only after a
// policy change.
func TestErrorStatusRetriedAtPollInterval(t *testing.T) {
	s, ad, _, c, _ := setup(t)
	ctx := context.Background()
	ad[agentrt.Codex].set(false, errors.New("transient"))
	s.ProvidersChanged(ctx, map[string]bool{"openai": true})
	s.Poll(ctx)
	if s.State(agentrt.Codex).Status != agentrt.StatusError {
		t.Fatal("not error")
	}
	ad[agentrt.Codex].set(true, nil)
	s.Poll(ctx)
	if s.State(agentrt.Codex).Status != agentrt.StatusError {
		t.Fatal("re-probed before the interval")
	}
	c.add(DefaultPollInterval)
	s.Poll(ctx)
	if s.State(agentrt.Codex).Status != agentrt.StatusActive {
		t.Fatalf("state %+v", s.State(agentrt.Codex))
	}
}

// Turning a provider off and on again re-writes the pin it cleared, even
// though the account did not change; a steady account is not re-pinned
// on every poll.
func TestProviderBackOnRestoresClearedPin(t *testing.T) {
	s, _, j, c, _ := setup(t)
	ctx := context.Background()
	s.ProvidersChanged(ctx, map[string]bool{"openai": true})
	s.Poll(ctx)
	c.add(DefaultPollInterval)
	s.Poll(ctx)
	if n := strings.Count(j.all(), "pin openai=acc-123"); n != 1 {
		t.Fatalf("pinned %d times for a steady account", n)
	}
	s.ProvidersChanged(ctx, map[string]bool{"openai": false})
	s.ProvidersChanged(ctx, map[string]bool{"openai": true})
	s.Poll(ctx)
	log := j.all()
	iClear := strings.Index(log, "pin openai=\n")
	iRestore := strings.LastIndex(log, "pin openai=acc-123")
	if iClear < 0 || iRestore < iClear || strings.Count(log, "pin openai=acc-123") != 2 {
		t.Fatalf("pin not cleared then restored:\n%s", log)
	}
	if s.State(agentrt.Codex).Status != agentrt.StatusActive {
		t.Fatal("not active again")
	}
}

// Run probes right after ProvidersChanged (no waiting for a tick) and
// returns once its context ends.
func TestRunProbesAfterProvidersChangedAndStops(t *testing.T) {
	s, _, _, _, _ := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	s.ProvidersChanged(ctx, map[string]bool{"openai": true})
	deadline := time.Now().Add(10 * time.Second)
	for s.State(agentrt.Codex).Status != agentrt.StatusActive {
		if time.Now().After(deadline) {
			t.Fatalf("state %+v", s.State(agentrt.Codex))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}
