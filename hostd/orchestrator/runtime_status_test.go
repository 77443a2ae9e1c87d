package orchestrator

import (
	"slices"
	"strings"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/fakert"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

func TestRuntimeLeavingActiveFailsItsRunningTasksAndClosesProcesses(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.codex.SetDefault(fakert.Hanging())
	h.claude.SetDefault(fakert.Hanging())
	r1 := h.create(agentrt.Codex, "a", "x")
	r2 := h.create(agentrt.Codex, "b", "x")
	other := h.create(agentrt.ClaudeCode, "c", "x")
	if _, err := h.codex.WaitTurns(h.ctx(), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := h.claude.WaitTurns(h.ctx(), 1); err != nil {
		t.Fatal(err)
	}
	h.waitFor("3 running", func() bool { return h.counts()[tasks.StatusRunning] == 3 })
	queued := h.create(agentrt.Codex, "a", "waits on the busy thread")

	h.status.Set(agentrt.Codex, agentrt.StatusAwaitingLogin)
	for _, id := range []string{r1.ID, r2.ID} {
		got := h.waitStatus(id, tasks.StatusFailed)
		if !strings.Contains(got.Error, "codex runtime stopped being active (now awaiting_login)") {
			t.Fatalf("error_message = %q", got.Error)
		}
		if evs := types(h.events(id)); evs[len(evs)-1] != tasks.EventTaskFailed {
			t.Fatalf("events = %v", evs)
		}
	}
	h.waitFor("CloseAll on codex", func() bool { return h.codex.CloseAllCalls() == 1 })
	if err := h.codex.WaitLive(h.ctx(), 0); err != nil {
		t.Fatal(err)
	}
	if h.claude.CloseAllCalls() != 0 || h.get(other.ID).Status != tasks.StatusRunning {
		t.Fatal("the other runtime was disturbed")
	}
	if s := h.get(queued.ID).Status; s != tasks.StatusQueued {
		t.Fatalf("queued task became %s", s)
	}
	if ids := h.orch.ActiveTaskIDs(agentrt.Codex); len(ids) != 0 {
		t.Fatalf("ActiveTaskIDs(codex) = %v", ids)
	}
	// Back to active: the queued task runs.
	h.codex.SetDefault(fakert.Reply("back"))
	h.status.Set(agentrt.Codex, agentrt.StatusActive)
	h.waitStatus(queued.ID, tasks.StatusCompleted)
}

func TestStartTurnFailureFailsTheTask(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.codex.Push(fakert.Script{StartErr: errString("app-server exited during start-up")})
	task := h.create(agentrt.Codex, "th", "x")
	got := h.waitStatus(task.ID, tasks.StatusFailed)
	if got.Error != "could not start the turn: app-server exited during start-up" {
		t.Fatalf("error = %q", got.Error)
	}
	// The thread is free again.
	next := h.create(agentrt.Codex, "th", "y")
	h.waitStatus(next.ID, tasks.StatusCompleted)
}

type errString string

func (e errString) Error() string { return string(e) }

func TestKillDuringSlowStartAbortsTheStart(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	never := gate()
	h.codex.Push(fakert.Script{StartGate: never, Steps: []fakert.Step{fakert.Complete("never")}})
	task := h.create(agentrt.Codex, "th", "x")
	if err := h.codex.WaitStarts(h.ctx(), 1); err != nil { // booting, not yet started
		t.Fatal(err)
	}
	if err := h.orch.Kill(h.ctx(), task.ID); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	next := h.create(agentrt.Codex, "th", "y")
	h.waitStatus(next.ID, tasks.StatusCompleted)
	if s := h.get(task.ID).Status; s != tasks.StatusCancelled {
		t.Fatalf("killed task = %s", s)
	}
}

func TestFollowUpResumesTheThreadSession(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	first := h.create(agentrt.ClaudeCode, "conv", "one")
	h.waitStatus(first.ID, tasks.StatusCompleted)
	second := h.create(agentrt.ClaudeCode, "conv", "two")
	h.waitStatus(second.ID, tasks.StatusCompleted)
	fresh := h.create(agentrt.ClaudeCode, "new-conv", "three")
	h.waitStatus(fresh.ID, tasks.StatusCompleted)
	turns := h.claude.Turns()
	if turns[0].Request().SessionID != "" {
		t.Fatalf("first turn resumed %q", turns[0].Request().SessionID)
	}
	if turns[1].Request().SessionID != turns[0].SessionID() {
		t.Fatalf("follow-up resumed %q, want %q", turns[1].Request().SessionID, turns[0].SessionID())
	}
	if turns[2].Request().SessionID != "" {
		t.Fatalf("a new thread resumed %q", turns[2].Request().SessionID)
	}
}

func TestShutdownStopsRunningTurnsAndFailsTheirTasks(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.codex.SetDefault(fakert.Hanging())
	task := h.create(agentrt.Codex, "th", "x")
	turns, err := h.codex.WaitTurns(h.ctx(), 1)
	if err != nil {
		t.Fatal(err)
	}
	h.waitStatus(task.ID, tasks.StatusRunning)
	queued := h.create(agentrt.Codex, "th", "stays queued")
	path := h.path
	h.stop()
	if !turns[0].Killed() || h.codex.Live() != 0 {
		t.Fatal("Run returned with the turn still running")
	}
	if h.codex.CloseAllCalls() != 1 || h.claude.CloseAllCalls() != 1 {
		t.Fatal("Run did not close the adapters' processes")
	}
	h2 := newHarness(t, harnessOpts{path: path, inactive: true})
	got := h2.get(task.ID)
	if got.Status != tasks.StatusFailed || !strings.Contains(got.Error, "shut down") {
		t.Fatalf("task after shutdown = %+v", got)
	}
	if s := h2.get(queued.ID).Status; s != tasks.StatusQueued {
		t.Fatalf("queued task after restart = %s", s)
	}
}

func TestRestartFailsRunningTasksAndRunsQueuedOnes(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.codex.SetDefault(fakert.Hanging())
	task := h.create(agentrt.Codex, "th", "x")
	h.waitStatus(task.ID, tasks.StatusRunning)
	queued := h.create(agentrt.Codex, "th", "next")
	// Simulate a crash: the store is closed without the orchestrator
	// finishing the task (no shutdown path runs).
	path := h.path
	stopOld := h.cancel
	h.cancel = nil // leave Run alone and close the store under it
	_ = h.st.Close()
	h.st = nil
	defer stopOld()

	h2 := newHarness(t, harnessOpts{path: path})
	rec := h2.st.Recovery()
	if !slices.Equal(rec.FailedTasks, []string{task.ID}) {
		t.Fatalf("recovery failed %v", rec.FailedTasks)
	}
	got := h2.get(task.ID)
	if got.Status != tasks.StatusFailed || !strings.Contains(got.Error, "restarted") {
		t.Fatalf("running task after restart = %+v", got)
	}
	h2.waitStatus(queued.ID, tasks.StatusCompleted)
}
