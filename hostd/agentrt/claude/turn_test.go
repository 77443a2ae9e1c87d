package claude

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// Bad lines and unknown events are skipped; each assistant text is a
// message; the result is the output; the session id is reported.
func TestTurnCompletesWithResultAndSession(t *testing.T) {
	a, logPath := fakeAdapter(t, "ok")
	var r recorder
	res := wait(t, start(t, a, r.req("t1", "", "hello")))
	if res.Outcome != agentrt.OutcomeCompleted || res.Output != "reply to: hello" || res.SessionID != fakeSession {
		t.Fatalf("result %+v", res)
	}
	if strings.Join(r.messages, "|") != "thinking about hello|reply to: hello" {
		t.Errorf("messages %q", r.messages)
	}
	if len(r.sessions) != 1 || r.sessions[0] != fakeSession {
		t.Errorf("sessions %q", r.sessions)
	}
	log := logText(logPath)
	for _, want := range []string{"--input-format stream-json", "--output-format stream-json", "--verbose", "--strict-mcp-config", "--permission-mode bypassPermissions"} {
		if !strings.Contains(log, want) {
			t.Errorf("args lack %q: %s", want, log)
		}
	}
	if strings.Contains(log, "--resume") {
		t.Error("new conversation passed --resume")
	}
}

func TestResumePassesSessionID(t *testing.T) {
	a, logPath := fakeAdapter(t, "ok")
	var r recorder
	const sid = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	res := wait(t, start(t, a, r.req("t1", sid, "again")))
	if res.SessionID != sid || !strings.Contains(logText(logPath), "--resume "+sid) {
		t.Fatalf("result %+v, log %s", res, logText(logPath))
	}
}

// A session id that is not a UUID never reaches the command line.
func TestResumeRefusesNonUUIDSession(t *testing.T) {
	a, _ := fakeAdapter(t, "ok")
	var r recorder
	_, err := a.StartTurn(context.Background(), r.req("t1", "--dangerously-skip-permissions", "x"))
	if err == nil {
		t.Fatal("accepted a flag as session id")
	}
}

// A steer written while a text-only turn runs is queued by the CLI as a
// next turn: the adapter waits for that turn's result.
func TestSteerQueuedAsNextTurnIsAwaited(t *testing.T) {
	a, _ := fakeAdapter(t, "queued")
	var r recorder
	turn := start(t, a, r.req("t1", "", "first"))
	if err := turn.Steer(context.Background(), "steer"); err != nil {
		t.Fatal(err)
	}
	res := wait(t, turn)
	if res.Outcome != agentrt.OutcomeCompleted || res.Output != "reply to: steer" {
		t.Fatalf("result %+v (messages %q)", res, r.messages)
	}
	if err := turn.Steer(context.Background(), "late"); !errors.Is(err, agentrt.ErrTurnEnded) {
		t.Errorf("late steer: %v", err)
	}
}

// A steer injected into a tool-using turn is covered by that turn's one
// result: the turn ends there, not waiting for another.
func TestSteerInjectedIntoRunningTurn(t *testing.T) {
	a, _ := fakeAdapter(t, "inject")
	var r recorder
	turn := start(t, a, r.req("t1", "", "a"))
	if err := turn.Steer(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	res := wait(t, turn)
	if res.Outcome != agentrt.OutcomeCompleted || res.Output != "saw: a + b" {
		t.Fatalf("result %+v", res)
	}
}

func TestProcessDyingMidTurnFails(t *testing.T) {
	a, _ := fakeAdapter(t, "die")
	var r recorder
	res := wait(t, start(t, a, r.req("t1", "", "x")))
	if res.Outcome != agentrt.OutcomeFailed || !strings.Contains(res.Error, "exit status 3") || res.Output != "partial" {
		t.Fatalf("result %+v", res)
	}
}

func TestErrorResultFailsTurn(t *testing.T) {
	a, _ := fakeAdapter(t, "error-result")
	var r recorder
	res := wait(t, start(t, a, r.req("t1", "", "x")))
	if res.Outcome != agentrt.OutcomeFailed || !strings.Contains(res.Error, "401") {
		t.Fatalf("result %+v", res)
	}
}

// Kill on a hung turn that ignores the interrupt: the process group,
// including a tool it started, is gone when Kill returns.
func TestKillHungTurnKillsGroup(t *testing.T) {
	a, logPath := fakeAdapter(t, "hang")
	var r recorder
	turn := start(t, a, r.req("t1", "", "x"))
	deadline := time.Now().Add(10 * time.Second)
	for len(loggedPids(logPath)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := turn.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range loggedPids(logPath) {
		if processAlive(pid) {
			t.Errorf("pid %d alive after Kill", pid)
		}
	}
	if res := wait(t, turn); res.Outcome != agentrt.OutcomeInterrupted {
		t.Fatalf("result %+v", res)
	}
	if err := turn.Steer(ctx, "x"); !errors.Is(err, agentrt.ErrTurnEnded) {
		t.Errorf("steer after kill: %v", err)
	}
	if err := turn.Kill(ctx); err != nil {
		t.Errorf("second kill: %v", err)
	}
}

// Kill sends the interrupt control request first.
func TestKillSendsInterruptControlRequest(t *testing.T) {
	a, logPath := fakeAdapter(t, "interruptible")
	var r recorder
	turn := start(t, a, r.req("t1", "", "x"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := turn.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if res := wait(t, turn); res.Outcome != agentrt.OutcomeInterrupted {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(logText(logPath), `"subtype":"interrupt"`) {
		t.Error("no interrupt control request written")
	}
}

func TestCloseAllKillsRunningTurns(t *testing.T) {
	a, _ := fakeAdapter(t, "hang")
	var r recorder
	turn := start(t, a, r.req("t1", "", "x"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.CloseAll(ctx); err != nil {
		t.Fatal(err)
	}
	if res := wait(t, turn); res.Outcome != agentrt.OutcomeInterrupted {
		t.Fatalf("result %+v", res)
	}
}

func TestProbeReadsAuthStatusJSON(t *testing.T) {
	for scenario, want := range map[string]bool{"ok": true, "logged-out": false} {
		a, _ := fakeAdapter(t, scenario)
		res, err := a.Probe(context.Background())
		if err != nil || res.LoggedIn != want {
			t.Errorf("%s: %+v %v", scenario, res, err)
		}
	}
}

func TestLoginFlowURLThenCode(t *testing.T) {
	a, logPath := fakeAdapter(t, "ok")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := a.StartLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.Info().LoginURL, "https://claude.com/cai/oauth/authorize?") || f.Info().Status != "awaiting_code" {
		t.Fatalf("info %+v", f.Info())
	}
	if err := f.SubmitCode(ctx, "two\nlines"); err == nil {
		t.Error("accepted a multi-line code")
	}
	if err := f.SubmitCode(ctx, "wrong"); err != nil {
		t.Fatal(err)
	}
	if err := f.SubmitCode(ctx, "good#code"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Done():
	case <-ctx.Done():
		t.Fatal("login did not end")
	}
	if err := f.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logText(logPath), "args=auth login --claudeai") {
		t.Error("not a claude.ai login")
	}
	f.Close()
}

func TestLoginExpires(t *testing.T) {
	a, _ := fakeAdapter(t, "ok", func(o *Options) { o.LoginTTL = 100 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := a.StartLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-f.Done()
	if err := f.Err(); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("err %v", err)
	}
	f.Close()
}

// Resuming a session the CLI does not know fails with its own words.
func TestUnknownSessionFailsWithCLIMessage(t *testing.T) {
	a, _ := fakeAdapter(t, "unknown-session")
	var r recorder
	res := wait(t, start(t, a, r.req("t1", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "x")))
	if res.Outcome != agentrt.OutcomeFailed || !strings.Contains(res.Error, "No conversation found") {
		t.Fatalf("result %+v", res)
	}
}
