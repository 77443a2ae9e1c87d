package codex

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// Bad JSON lines and unknown notifications around a turn are skipped;
// every completed agent message is reported and the last one is the
// output.
func TestTurnSurvivesBadLinesAndUnknownNotifications(t *testing.T) {
	a, logPath := fakeAdapter(t, "ok")
	var r recorder
	res := runTurn(t, a, r.req("t1", "", "hello"))
	if res.Outcome != agentrt.OutcomeCompleted || res.Output != "reply to: hello on th-new" || res.SessionID != "th-new" {
		t.Fatalf("result = %+v", res)
	}
	if strings.Join(r.messages, "|") != "first|reply to: hello on th-new" {
		t.Errorf("messages = %q", r.messages)
	}
	if len(r.sessions) == 0 || r.sessions[0] != "th-new" {
		t.Errorf("sessions = %q", r.sessions)
	}
	lines := logLines(t, logPath)
	if countLines(lines, "initialize") != 1 || countLines(lines, "initialized") != 1 || countLines(lines, "thread/start") != 1 {
		t.Errorf("handshake not as expected: %q", lines)
	}
}

// A follow-up on the same thread reuses the warm app-server: no new
// process, no thread/resume.
func TestFollowUpUsesWarmServer(t *testing.T) {
	a, logPath := fakeAdapter(t, "ok")
	var r recorder
	first := runTurn(t, a, r.req("t1", "", "one"))
	if a.WarmCount() != 1 {
		t.Fatalf("warm servers after a turn = %d, want 1", a.WarmCount())
	}
	second := runTurn(t, a, r.req("t1", first.SessionID, "two"))
	if second.Output != "reply to: two on th-new" {
		t.Fatalf("second = %+v", second)
	}
	lines := logLines(t, logPath)
	if n := countLines(lines, "initialize"); n != 1 {
		t.Errorf("app-servers started = %d, want 1 (warm reuse)", n)
	}
	if n := countLines(lines, "thread/resume"); n != 0 {
		t.Errorf("thread/resume on a warm server")
	}
}

// Without a warm server, a known session is resumed in a new process.
func TestResumeInNewProcess(t *testing.T) {
	a, logPath := fakeAdapter(t, "ok")
	var r recorder
	res := runTurn(t, a, r.req("t9", "th-old", "again"))
	if res.Output != "reply to: again on th-old" || res.SessionID != "th-old" {
		t.Fatalf("result = %+v", res)
	}
	if countLines(logLines(t, logPath), "thread/resume") != 1 {
		t.Error("no thread/resume sent")
	}
}

// The pool never holds more servers than its capacity: a new thread
// closes the least recently used idle server.
func TestWarmPoolEvictsLeastRecentlyUsed(t *testing.T) {
	a, logPath := fakeAdapter(t, "ok", func(o *Options) { o.WarmCapacity = 2 })
	var r recorder
	runTurn(t, a, r.req("a", "", "x"))
	runTurn(t, a, r.req("b", "", "x"))
	runTurn(t, a, r.req("a", "th-new", "x")) // a is now most recent
	runTurn(t, a, r.req("c", "", "x"))       // evicts b
	if a.WarmCount() != 2 {
		t.Fatalf("warm = %d, want 2", a.WarmCount())
	}
	a.mu.Lock()
	var threads []string
	for _, s := range a.idle {
		threads = append(threads, s.hostThread)
	}
	a.mu.Unlock()
	if strings.Join(threads, ",") != "a,c" {
		t.Errorf("warm threads = %v, want [a c]", threads)
	}
	if n := countLines(logLines(t, logPath), "initialize"); n != 3 {
		t.Errorf("servers started = %d, want 3", n)
	}
}

// A process that dies mid-turn fails the turn with a clear message.
func TestProcessDyingMidTurnFailsTurn(t *testing.T) {
	a, _ := fakeAdapter(t, "die")
	var r recorder
	res := runTurn(t, a, r.req("t1", "", "x"))
	if res.Outcome != agentrt.OutcomeFailed || !strings.Contains(res.Error, "stopped during the turn") || !strings.Contains(res.Error, "exit status 3") {
		t.Fatalf("result = %+v", res)
	}
	if a.WarmCount() != 0 {
		t.Error("dead server kept warm")
	}
}

// A flood of non-JSON output is a broken protocol: the turn fails
// instead of hanging.
func TestGarbageFloodFailsTurn(t *testing.T) {
	a, _ := fakeAdapter(t, "garbage-flood")
	var r recorder
	res := runTurn(t, a, r.req("t1", "", "x"))
	if res.Outcome != agentrt.OutcomeFailed || !strings.Contains(res.Error, "not JSON-RPC") {
		t.Fatalf("result = %+v", res)
	}
}

// A failed turn carries the model error.
func TestFailedTurnCarriesError(t *testing.T) {
	a, _ := fakeAdapter(t, "fail")
	var r recorder
	res := runTurn(t, a, r.req("t1", "", "x"))
	if res.Outcome != agentrt.OutcomeFailed || !strings.Contains(res.Error, "401") {
		t.Fatalf("result = %+v", res)
	}
}

// Kill ends a hung turn: the whole process group (including a tool the
// turn started) is gone when Kill returns, and Wait reports interrupted.
func TestKillEndsHungTurnAndItsChildren(t *testing.T) {
	a, logPath := fakeAdapter(t, "hang")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r recorder
	turn, err := a.StartTurn(ctx, r.req("t1", "", "x"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(loggedPids(t, logPath)) >= 2 })
	start := time.Now()
	if err := turn.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range loggedPids(t, logPath) {
		if processAlive(pid) {
			t.Errorf("pid %d alive after Kill returned", pid)
		}
	}
	res, err := turn.Wait(ctx)
	if err != nil || res.Outcome != agentrt.OutcomeInterrupted {
		t.Fatalf("Wait = %+v, %v", res, err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("Kill took %v", time.Since(start))
	}
	if err := turn.Steer(ctx, "late"); !errors.Is(err, agentrt.ErrTurnEnded) {
		t.Errorf("steer after kill: %v", err)
	}
	if err := turn.Kill(ctx); err != nil {
		t.Errorf("second Kill: %v", err)
	}
	if a.WarmCount() != 0 {
		t.Error("killed server kept warm")
	}
}

// Kill first asks Codex to interrupt, so its history records the turn.
func TestKillInterruptsFirst(t *testing.T) {
	a, logPath := fakeAdapter(t, "interruptible")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r recorder
	turn, err := a.StartTurn(ctx, r.req("t1", "", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := turn.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	res, _ := turn.Wait(ctx)
	if res.Outcome != agentrt.OutcomeInterrupted {
		t.Fatalf("result %+v", res)
	}
	if countLines(logLines(t, logPath), "turn/interrupt") != 1 {
		t.Error("no turn/interrupt sent")
	}
}

// A steer reaches the running turn; one that arrives after the turn
// ended reports ErrTurnEnded.
func TestSteerReachesRunningTurn(t *testing.T) {
	a, _ := fakeAdapter(t, "steerable")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r recorder
	turn, err := a.StartTurn(ctx, r.req("t1", "", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := turn.Steer(ctx, "go left"); err != nil {
		t.Fatal(err)
	}
	res, _ := turn.Wait(ctx)
	if res.Outcome != agentrt.OutcomeCompleted || res.Output != "steered: go left" {
		t.Fatalf("result %+v", res)
	}
	if err := turn.Steer(ctx, "too late"); !errors.Is(err, agentrt.ErrTurnEnded) {
		t.Errorf("late steer: %v", err)
	}
}

// Codex's -32600 for a steer with no active turn maps to ErrTurnEnded.
func TestSteerRejectedByCodexIsTurnEnded(t *testing.T) {
	a, _ := fakeAdapter(t, "ok")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r recorder
	turn, err := a.StartTurn(ctx, r.req("t1", "", "x"))
	if err != nil {
		t.Fatal(err)
	}
	err = turn.Steer(ctx, "x")
	if err != nil && !errors.Is(err, agentrt.ErrTurnEnded) {
		t.Fatalf("steer: %v", err)
	}
	_, _ = turn.Wait(ctx)
}

// Approval requests are answered (full auto) instead of stalling the turn.
func TestApprovalRequestAnswered(t *testing.T) {
	a, _ := fakeAdapter(t, "approval")
	var r recorder
	res := runTurn(t, a, r.req("t1", "", "x"))
	if res.Output != "approval answered: accept" {
		t.Fatalf("result %+v", res)
	}
}

// CloseAll ends running turns as interrupted and closes warm servers.
func TestCloseAllStopsEverything(t *testing.T) {
	a, logPath := fakeAdapter(t, "hang")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var r recorder
	turn, err := a.StartTurn(ctx, r.req("t1", "", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CloseAll(ctx); err != nil {
		t.Fatal(err)
	}
	res, _ := turn.Wait(ctx)
	if res.Outcome != agentrt.OutcomeInterrupted {
		t.Fatalf("result %+v", res)
	}
	assertNoFakeLeft(t, logPath)
}

func TestProbe(t *testing.T) {
	for scenario, want := range map[string]bool{"ok": true, "logged-out": false} {
		a, logPath := fakeAdapter(t, scenario)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		res, err := a.Probe(ctx)
		cancel()
		if err != nil || res.LoggedIn != want {
			t.Errorf("%s: probe = %+v, %v", scenario, res, err)
		}
		assertNoFakeLeft(t, logPath) // Probe leaves no process behind
	}
}

func TestDeviceCodeLogin(t *testing.T) {
	a, _ := fakeAdapter(t, "login-ok")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := a.StartLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info := f.Info()
	if info.DeviceCode != "ABCD-1234" || info.LoginURL != "https://auth.example/device" || info.ExpiresAt.IsZero() {
		t.Fatalf("info %+v", info)
	}
	select {
	case <-f.Done():
	case <-ctx.Done():
		t.Fatal("login never completed")
	}
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	if err := f.SubmitCode(ctx, "x"); !errors.Is(err, agentrt.ErrNotSupported) {
		t.Errorf("SubmitCode: %v", err)
	}
	f.Close()
}

func TestDeviceCodeLoginExpires(t *testing.T) {
	a, logPath := fakeAdapter(t, "login-pending", func(o *Options) { o.LoginTTL = 100 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := a.StartLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-f.Done()
	if err := f.Err(); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("err = %v", err)
	}
	f.Close()
	if countLines(logLines(t, logPath), "account/login/cancel") != 1 {
		t.Error("expired login not cancelled")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
