package orchestrator

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/fakert"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

func TestDeliveredSteerIsRecordedAsUserMessage(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.codex.Push(fakert.Script{
		Steps:      []fakert.Step{fakert.Say("started"), fakert.AwaitSteers(1), fakert.Complete("done")},
		SteerReply: func(s string) string { return "ack: " + s },
	})
	task := h.create(agentrt.Codex, "th", "go")
	turns, err := h.codex.WaitTurns(h.ctx(), 1)
	if err != nil {
		t.Fatal(err)
	}
	h.waitStatus(task.ID, tasks.StatusRunning)
	if err := h.orch.Steer(h.ctx(), task.ID, "turn left"); err != nil {
		t.Fatalf("Steer: %v", err)
	}
	h.waitStatus(task.ID, tasks.StatusCompleted)
	if got := turns[0].Steers(); !slices.Equal(got, []string{"turn left"}) {
		t.Fatalf("turn took %v", got)
	}
	ms := messages(t, h.events(task.ID))
	if !slices.Contains(ms, msg{"turn left", "user"}) || !slices.Contains(ms, msg{"ack: turn left", "agent"}) {
		t.Fatalf("messages = %v", ms)
	}
	if n, _ := h.st.PendingSteers(h.ctx(), task.ID); n != 0 {
		t.Fatalf("pending steers after delivery = %d", n)
	}
}

// TestSteerPrecedesItsAnswerInTheEventLog: an agent that answers a steer
// at once (before turn.Steer has returned) must not get its answer
// recorded ahead of the steer's user message.
func TestSteerPrecedesItsAnswerInTheEventLog(t *testing.T) {
	const n = 8
	h := newHarness(t, harnessOpts{})
	h.codex.Push(fakert.Script{
		Steps:      []fakert.Step{fakert.Say("started"), fakert.AwaitSteers(n), fakert.Complete("done")},
		SteerReply: func(s string) string { return "ack: " + s },
	})
	task := h.create(agentrt.Codex, "th", "go")
	if _, err := h.codex.WaitTurns(h.ctx(), 1); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(task.ID, tasks.StatusRunning)
	for i := range n {
		if err := h.orch.Steer(h.ctx(), task.ID, fmt.Sprintf("steer %d", i)); err != nil {
			t.Fatalf("Steer %d: %v", i, err)
		}
	}
	h.waitStatus(task.ID, tasks.StatusCompleted)
	ms := messages(t, h.events(task.ID))
	for i := range n {
		text := fmt.Sprintf("steer %d", i)
		u := slices.Index(ms, msg{text, "user"})
		a := slices.Index(ms, msg{"ack: " + text, "agent"})
		if u < 0 || a < 0 || a < u {
			t.Fatalf("%q: user message at %d, its answer at %d; messages %v", text, u, a, ms)
		}
	}
}

func TestSteerAfterLastSteeringPointIsRecordedNotDelivered(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	g := gate()
	h.codex.Push(fakert.Script{Steps: []fakert.Step{fakert.CloseSteering(), fakert.Gate(g), fakert.Complete("done")}})
	task := h.create(agentrt.Codex, "th", "go")
	if _, err := h.codex.WaitTurns(h.ctx(), 1); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(task.ID, tasks.StatusRunning)
	if err := h.orch.Steer(h.ctx(), task.ID, "too late"); err != nil {
		t.Fatalf("Steer: %v (accepted means recorded)", err)
	}
	close(g)
	h.waitStatus(task.ID, tasks.StatusCompleted)
	if got := h.codex.Turns()[0].Steers(); len(got) != 0 {
		t.Fatalf("turn took %v", got)
	}
	und, err := h.st.UndeliveredSteers(h.ctx(), task.ID)
	if err != nil || !slices.Equal(und, []string{"too late"}) {
		t.Fatalf("undelivered = %v, %v", und, err)
	}
	for _, m := range messages(t, h.events(task.ID)) {
		if m.Message == "too late" {
			t.Fatal("an undelivered steer was logged as a delivered message")
		}
	}
}

func TestKillCancelsDurablyAndHoldsTheThreadUntilExit(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	exit := gate()
	h.codex.PushFor("th", fakert.Script{Steps: []fakert.Step{fakert.Hang()}, ExitGate: exit})
	first := h.create(agentrt.Codex, "th", "first")
	turns, err := h.codex.WaitTurns(h.ctx(), 1)
	if err != nil {
		t.Fatal(err)
	}
	h.waitStatus(first.ID, tasks.StatusRunning)
	second := h.create(agentrt.Codex, "th", "second")
	if err := h.orch.Kill(h.ctx(), first.ID); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	// Cancelled at once and durably, although the process still runs.
	if s := h.get(first.ID).Status; s != tasks.StatusCancelled {
		t.Fatalf("status right after Kill = %s", s)
	}
	if !turns[0].Killed() {
		h.waitFor("the turn to be killed", turns[0].Killed)
	}
	// The dying process still holds the thread: nothing else may start on
	// it, whatever wakes the dispatcher.
	other := h.create(agentrt.Codex, "elsewhere", "wake")
	h.waitStatus(other.ID, tasks.StatusCompleted)
	h.clock.Tick(t, h.orch.cfg.RescanInterval)
	if s := h.get(second.ID).Status; s != tasks.StatusQueued {
		t.Fatalf("second task is %s while the killed process has not exited", s)
	}
	select {
	case <-turns[0].Done():
		t.Fatal("the turn ended before its exit gate")
	default:
	}
	close(exit)
	h.waitStatus(second.ID, tasks.StatusCompleted)
	if s := h.get(first.ID).Status; s != tasks.StatusCancelled {
		t.Fatalf("killed task became %s after its turn ended", s)
	}
	evs := types(h.events(first.ID))
	if evs[len(evs)-1] != tasks.EventTaskCancelled || slices.Contains(evs, tasks.EventTaskFailed) {
		t.Fatalf("killed task events = %v", evs)
	}
	// The thread survives: the follow-up resumed the same session.
	all := h.codex.Turns()
	if all[2].Request().SessionID == "" || all[2].Request().SessionID != turns[0].SessionID() {
		t.Fatalf("follow-up session %q, killed turn's %q", all[2].Request().SessionID, turns[0].SessionID())
	}
}

func TestKillAndCancelRefuseTheWrongState(t *testing.T) {
	h := newHarness(t, harnessOpts{inactive: true})
	ctx := h.ctx()
	q := h.create(agentrt.Codex, "th", "x")
	if err := h.orch.Kill(ctx, q.ID); !errors.Is(err, tasks.ErrConflict) {
		t.Fatalf("kill queued: %v", err)
	}
	if err := h.orch.Steer(ctx, q.ID, "x"); !errors.Is(err, tasks.ErrConflict) {
		t.Fatalf("steer queued: %v", err)
	}
	if err := h.orch.Cancel(ctx, q.ID); err != nil {
		t.Fatalf("cancel queued: %v", err)
	}
	if err := h.orch.Cancel(ctx, q.ID); !errors.Is(err, tasks.ErrConflict) {
		t.Fatalf("cancel cancelled: %v", err)
	}
	if _, err := h.orch.Edit(ctx, q.ID, "y"); !errors.Is(err, tasks.ErrConflict) {
		t.Fatalf("edit cancelled: %v", err)
	}
	for name, err := range map[string]error{
		"kill":   h.orch.Kill(ctx, "missing"),
		"cancel": h.orch.Cancel(ctx, "missing"),
		"steer":  h.orch.Steer(ctx, "missing", "x"),
	} {
		if !errors.Is(err, tasks.ErrNotFound) {
			t.Errorf("%s missing: %v", name, err)
		}
	}
	want := []string{tasks.EventTaskMessage, tasks.EventTaskCancelled}
	if got := types(h.events(q.ID)); !slices.Equal(got, want) {
		t.Fatalf("cancelled queued task events = %v", got)
	}
	// A cancelled queued task never runs once the runtime is active.
	h.status.Set(agentrt.Codex, agentrt.StatusActive)
	after := h.create(agentrt.Codex, "th", "next")
	h.waitStatus(after.ID, tasks.StatusCompleted)
	if n := len(h.codex.Turns()); n != 1 {
		t.Fatalf("turns = %d, want only the later task's", n)
	}
}

func TestEditedQueuedTaskRunsTheNewInput(t *testing.T) {
	h := newHarness(t, harnessOpts{inactive: true})
	task := h.create(agentrt.Codex, "th", "old")
	edited, err := h.orch.Edit(h.ctx(), task.ID, "new")
	if err != nil || edited.Input != "new" || edited.Status != tasks.StatusQueued {
		t.Fatalf("Edit = %+v, %v", edited, err)
	}
	h.status.Set(agentrt.Codex, agentrt.StatusActive)
	h.waitStatus(task.ID, tasks.StatusCompleted)
	if in := h.codex.Turns()[0].Request().Input; in != "new" {
		t.Fatalf("turn input = %q", in)
	}
}
