package orchestrator

import (
	"fmt"
	"slices"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/fakert"
	"github.com/trustyclaw/trustyclaw/hostd/store"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

func (h *harness) counts() store.Counts {
	h.t.Helper()
	c, err := h.st.CountTasks(h.ctx())
	if err != nil {
		h.t.Fatalf("CountTasks: %v", err)
	}
	return c
}

func (h *harness) runningOf(rt agentrt.Type) int {
	h.t.Helper()
	ts, err := h.st.RunningTasks(h.ctx())
	if err != nil {
		h.t.Fatalf("RunningTasks: %v", err)
	}
	n := 0
	for _, t := range ts {
		if t.Runtime == rt {
			n++
		}
	}
	return n
}

func TestAtMostSixWorkersAndThreePerRuntime(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.codex.SetDefault(fakert.Hanging())
	h.claude.SetDefault(fakert.Hanging())
	var all []tasks.Task
	for i := range 5 {
		all = append(all, h.create(agentrt.Codex, fmt.Sprintf("cx-%d", i), "x"))
		all = append(all, h.create(agentrt.ClaudeCode, fmt.Sprintf("cc-%d", i), "x"))
	}
	ctx := h.ctx()
	if _, err := h.codex.WaitTurns(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := h.claude.WaitTurns(ctx, 3); err != nil {
		t.Fatal(err)
	}
	// Give the dispatcher every chance to over-claim: wake it repeatedly.
	for range 3 {
		h.clock.Tick(t, h.orch.cfg.RescanInterval)
	}
	c := h.counts()
	if c[tasks.StatusRunning] != 6 || c[tasks.StatusQueued] != 4 {
		t.Fatalf("counts = %v, want 6 running, 4 queued", c)
	}
	if h.runningOf(agentrt.Codex) != 3 || h.runningOf(agentrt.ClaudeCode) != 3 {
		t.Fatalf("running per runtime: codex %d, claude %d", h.runningOf(agentrt.Codex), h.runningOf(agentrt.ClaudeCode))
	}
	if len(h.codex.Turns()) != 3 || len(h.claude.Turns()) != 3 {
		t.Fatalf("turns started: codex %d, claude %d", len(h.codex.Turns()), len(h.claude.Turns()))
	}
	// Ending one codex task frees a codex slot: the oldest queued codex
	// task runs next, never a claude one beyond its three.
	if err := h.orch.Kill(ctx, all[0].ID); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	turns, err := h.codex.WaitTurns(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if turns[3].Request().ThreadID != "cx-3" {
		t.Fatalf("next codex turn ran thread %s, want cx-3", turns[3].Request().ThreadID)
	}
	h.waitFor("6 running again", func() bool { return h.counts()[tasks.StatusRunning] == 6 })
	if len(h.claude.Turns()) != 3 {
		t.Fatalf("claude turns = %d", len(h.claude.Turns()))
	}
}

func TestOneTaskAtATimePerThreadInCreationOrder(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	gates := []chan struct{}{gate(), gate(), gate()}
	for _, g := range gates {
		h.codex.PushFor("th", fakert.Script{Steps: []fakert.Step{fakert.Gate(g), fakert.Complete("ok")}})
	}
	var ids []string
	for i := range 3 {
		ids = append(ids, h.create(agentrt.Codex, "th", fmt.Sprintf("input %d", i)).ID)
	}
	other := h.create(agentrt.Codex, "other", "parallel")
	h.waitStatus(other.ID, tasks.StatusCompleted) // another thread runs meanwhile
	ctx := h.ctx()
	for i := range 3 {
		h.waitStatus(ids[i], tasks.StatusRunning)
		for _, later := range ids[i+1:] {
			if s := h.get(later).Status; s != tasks.StatusQueued {
				t.Fatalf("task %d of the thread is %s while task %d runs", slices.Index(ids, later), s, i)
			}
		}
		close(gates[i])
		h.waitStatus(ids[i], tasks.StatusCompleted)
	}
	turns, err := h.codex.WaitTurns(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for _, tr := range turns {
		if tr.Request().ThreadID == "th" {
			inputs = append(inputs, tr.Request().Input)
		}
	}
	if !slices.Equal(inputs, []string{"input 0", "input 1", "input 2"}) {
		t.Fatalf("thread turns ran inputs %v", inputs)
	}
}

func TestInactiveRuntimeIsNeverClaimedUntilActive(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.status.Set(agentrt.ClaudeCode, agentrt.StatusAwaitingLogin)
	waiting := h.create(agentrt.ClaudeCode, "c", "wait for login")
	ran := h.create(agentrt.Codex, "x", "runs now")
	h.waitStatus(ran.ID, tasks.StatusCompleted)
	h.clock.Tick(t, h.orch.cfg.RescanInterval)
	h.clock.Tick(t, h.orch.cfg.RescanInterval)
	if s := h.get(waiting.ID).Status; s != tasks.StatusQueued || len(h.claude.Turns()) != 0 {
		t.Fatalf("task on inactive runtime is %s after %d turns", s, len(h.claude.Turns()))
	}
	h.status.Set(agentrt.ClaudeCode, agentrt.StatusActive)
	h.waitStatus(waiting.ID, tasks.StatusCompleted)
}
