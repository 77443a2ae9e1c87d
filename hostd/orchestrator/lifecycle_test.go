package orchestrator

import (
	"slices"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/fakert"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

func TestTaskRunsToCompletedWithEventsInOrder(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	g := gate()
	h.codex.PushFor("th", fakert.Script{Steps: []fakert.Step{fakert.Say("one"), fakert.Gate(g), fakert.Say("two"), fakert.Complete("")}})
	task := h.create(agentrt.Codex, "th", "do it")
	if task.Status != tasks.StatusQueued {
		t.Fatalf("created status = %s", task.Status)
	}
	h.waitStatus(task.ID, tasks.StatusRunning)
	// Listed once its claim is committed and registered.
	h.waitFor("the task to be listed active", func() bool {
		return slices.Equal(h.orch.ActiveTaskIDs(agentrt.Codex), []string{task.ID})
	})
	if ids := h.orch.ActiveTaskIDs(agentrt.ClaudeCode); len(ids) != 0 {
		t.Fatalf("ActiveTaskIDs(claude_code) = %v", ids)
	}
	close(g)
	done := h.waitStatus(task.ID, tasks.StatusCompleted)
	if done.Output != "two" || done.Error != "" {
		t.Fatalf("completed task = %+v", done)
	}
	evs := h.events(task.ID)
	want := []string{tasks.EventTaskMessage, tasks.EventTaskStarted, tasks.EventTaskMessage, tasks.EventTaskMessage, tasks.EventTaskCompleted}
	if !slices.Equal(types(evs), want) {
		t.Fatalf("events = %v, want %v", types(evs), want)
	}
	ms := messages(t, evs)
	if !slices.Equal(ms, []msg{{"do it", "user"}, {"one", "agent"}, {"two", "agent"}}) {
		t.Fatalf("messages = %v", ms)
	}
	h.waitFor("no active tasks", func() bool { return len(h.orch.ActiveTaskIDs(agentrt.Codex)) == 0 })
}

func TestFailedTurnRecordsItsError(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.claude.Push(fakert.Failing("model refused"))
	task := h.create(agentrt.ClaudeCode, "th", "x")
	done := h.waitStatus(task.ID, tasks.StatusFailed)
	if done.Error != "model refused" || done.Output != "" {
		t.Fatalf("failed task = %+v", done)
	}
	want := []string{tasks.EventTaskMessage, tasks.EventTaskStarted, tasks.EventTaskFailed}
	if got := types(h.events(task.ID)); !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
}
