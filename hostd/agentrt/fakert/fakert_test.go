package fakert

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

type recorder struct {
	mu       sync.Mutex
	msgs     []string
	sessions []string
}

func (r *recorder) req(thread, session, input string) agentrt.TurnRequest {
	return agentrt.TurnRequest{
		ThreadID: thread, SessionID: session, Input: input,
		OnMessage: func(s string) { r.mu.Lock(); r.msgs = append(r.msgs, s); r.mu.Unlock() },
		OnSession: func(s string) { r.mu.Lock(); r.sessions = append(r.sessions, s); r.mu.Unlock() },
	}
}

func TestDefaultScriptRepliesAndCompletes(t *testing.T) {
	a := New(agentrt.Codex)
	var r recorder
	turn, err := a.StartTurn(ctx(t), r.req("th", "", "hi"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := turn.Wait(ctx(t))
	if err != nil || res.Outcome != agentrt.OutcomeCompleted || res.Output != "fake reply: hi" || res.SessionID == "" {
		t.Fatalf("Wait = %+v, %v", res, err)
	}
	if !slices.Equal(r.msgs, []string{"fake reply: hi"}) || !slices.Equal(r.sessions, []string{res.SessionID}) {
		t.Fatalf("callbacks: %v %v", r.msgs, r.sessions)
	}
	// Resuming keeps the session.
	turn2, _ := a.StartTurn(ctx(t), r.req("th", res.SessionID, "again"))
	res2, _ := turn2.Wait(ctx(t))
	if res2.SessionID != res.SessionID {
		t.Fatalf("resumed session %q, want %q", res2.SessionID, res.SessionID)
	}
}

func TestStreamedMessagesFollowTheirGates(t *testing.T) {
	a := New(agentrt.ClaudeCode)
	g1, g2 := make(chan struct{}), make(chan struct{})
	a.Push(Stream([]string{"one", "two", "three"}, []<-chan struct{}{nil, g1, g2}))
	var r recorder
	turn, _ := a.StartTurn(ctx(t), r.req("th", "", "x"))
	ft := turn.(*Turn)
	waitMsgs := func(n int) {
		t.Helper()
		if _, err := waitFor(ctx(t), a, func() (struct{}, bool) { return struct{}{}, len(ft.Messages()) >= n }, func() string { return "messages" }); err != nil {
			t.Fatal(err)
		}
	}
	waitMsgs(1)
	if len(ft.Messages()) != 1 {
		t.Fatal("a gated message came early")
	}
	close(g1)
	waitMsgs(2)
	close(g2)
	res, _ := turn.Wait(ctx(t))
	if res.Output != "three" || !slices.Equal(ft.Messages(), []string{"one", "two", "three"}) {
		t.Fatalf("result %+v messages %v", res, ft.Messages())
	}
}

func TestSteersAreTakenRepliedAndRefusedAfterTheLastSteeringPoint(t *testing.T) {
	a := New(agentrt.Codex)
	done := make(chan struct{})
	a.Push(Script{
		Steps:      []Step{AwaitSteers(2), CloseSteering(), Gate(done), Complete("ok")},
		SteerReply: func(s string) string { return "re: " + s },
	})
	var r recorder
	turn, _ := a.StartTurn(ctx(t), r.req("th", "", "x"))
	for _, s := range []string{"a", "b"} {
		if err := turn.Steer(ctx(t), s); err != nil {
			t.Fatalf("Steer(%s): %v", s, err)
		}
	}
	ft := turn.(*Turn)
	if _, err := waitFor(ctx(t), a, func() (struct{}, bool) {
		ft.mu.Lock()
		defer ft.mu.Unlock()
		return struct{}{}, ft.steeringClosed
	}, func() string { return "steering closed" }); err != nil {
		t.Fatal(err)
	}
	if err := turn.Steer(ctx(t), "late"); !errors.Is(err, agentrt.ErrTurnEnded) {
		t.Fatalf("late steer: %v", err)
	}
	close(done)
	if _, err := turn.Wait(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := turn.Steer(ctx(t), "after end"); !errors.Is(err, agentrt.ErrTurnEnded) {
		t.Fatalf("steer after end: %v", err)
	}
	if !slices.Equal(ft.Steers(), []string{"a", "b"}) || !slices.Equal(ft.Messages(), []string{"re: a", "re: b"}) {
		t.Fatalf("steers %v messages %v", ft.Steers(), ft.Messages())
	}
}

func TestKillWaitsForTheExitGateAndEndsInterrupted(t *testing.T) {
	a := New(agentrt.Codex)
	exit := make(chan struct{})
	a.Push(Script{Steps: []Step{Hang()}, ExitGate: exit})
	var r recorder
	turn, _ := a.StartTurn(ctx(t), r.req("th", "", "x"))
	short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := turn.Kill(short); err == nil {
		t.Fatal("Kill returned before the process exited")
	}
	close(exit)
	if err := turn.Kill(ctx(t)); err != nil {
		t.Fatal(err)
	}
	res, _ := turn.Wait(ctx(t))
	if res.Outcome != agentrt.OutcomeInterrupted || !turn.(*Turn).Killed() {
		t.Fatalf("after kill: %+v", res)
	}
}

func TestCloseAllKillsEveryLiveTurn(t *testing.T) {
	a := New(agentrt.ClaudeCode)
	a.SetDefault(Hanging())
	var r recorder
	for _, th := range []string{"a", "b", "c"} {
		if _, err := a.StartTurn(ctx(t), r.req(th, "", "x")); err != nil {
			t.Fatal(err)
		}
	}
	if a.Live() != 3 {
		t.Fatalf("live = %d", a.Live())
	}
	if err := a.CloseAll(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if a.Live() != 0 || a.CloseAllCalls() != 1 {
		t.Fatalf("live %d, CloseAll calls %d", a.Live(), a.CloseAllCalls())
	}
}

func TestStartErrorsProbeAndWaitErrors(t *testing.T) {
	a := New(agentrt.Codex)
	boom := errors.New("no binary")
	a.Push(Script{StartErr: boom}, Script{Steps: []Step{Complete("x")}, WaitErr: errors.New("lost the process")})
	var r recorder
	if _, err := a.StartTurn(ctx(t), r.req("th", "", "x")); !errors.Is(err, boom) {
		t.Fatalf("StartTurn: %v", err)
	}
	turn, _ := a.StartTurn(ctx(t), r.req("th", "", "x"))
	if _, err := turn.Wait(ctx(t)); err == nil {
		t.Fatal("WaitErr not returned")
	}
	never := make(chan struct{})
	a.Push(Script{StartGate: never})
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := a.StartTurn(short, r.req("th", "", "x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("gated start: %v", err)
	}
	a.SetProbe(agentrt.ProbeResult{LoggedIn: false, Detail: "logged out"}, nil)
	if res, err := a.Probe(ctx(t)); err != nil || res.LoggedIn {
		t.Fatalf("Probe = %+v, %v", res, err)
	}
	if a.ProbeCalls() != 1 {
		t.Fatalf("probe calls %d", a.ProbeCalls())
	}
}

func TestPerThreadScriptsTakePrecedence(t *testing.T) {
	a := New(agentrt.Codex)
	a.Push(Reply("global"))
	a.PushFor("special", Reply("for special"))
	var r recorder
	t1, _ := a.StartTurn(ctx(t), r.req("other", "", "x"))
	t2, _ := a.StartTurn(ctx(t), r.req("special", "", "x"))
	r1, _ := t1.Wait(ctx(t))
	r2, _ := t2.Wait(ctx(t))
	if r1.Output != "global" || r2.Output != "for special" {
		t.Fatalf("outputs %q %q", r1.Output, r2.Output)
	}
}
