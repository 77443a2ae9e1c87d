package orchestrator

import (
	"fmt"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/store"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

func (h *harness) nextMaintenance() store.PruneStats {
	h.t.Helper()
	h.clock.Tick(h.t, h.orch.cfg.MaintenanceInterval)
	select {
	case st := <-h.maintenance:
		return st
	case <-time.After(testTimeout):
		h.t.Fatal("maintenance did not run")
		return store.PruneStats{}
	}
}

func TestHourlyMaintenanceEnforcesRetentionAndForgottenThreadsStartFresh(t *testing.T) {
	h := newHarness(t, harnessOpts{limits: store.Limits{FinishedTasks: 2, Threads: 2, IdempotencyKeys: 1}})
	ctx := h.ctx()
	var ids []string
	for _, th := range []string{"a", "b", "c", "d"} {
		task := h.create(agentrt.Codex, th, "x")
		h.waitStatus(task.ID, tasks.StatusCompleted)
		ids = append(ids, task.ID)
	}
	for i := range 3 {
		key := fmt.Sprintf("k%d", i)
		if _, _, err := h.st.BeginIdempotent(ctx, key, "POST", "/v1/tasks", h.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if err := h.st.FinishIdempotent(ctx, key, 201, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if sid, _ := h.st.ThreadSession(ctx, "a"); sid == "" {
		t.Fatal("thread a has no session before maintenance")
	}
	// Nothing is pruned until the hourly tick.
	if c := h.counts(); c[tasks.StatusCompleted] != 4 {
		t.Fatalf("pruned before maintenance: %v", c)
	}
	st := h.nextMaintenance()
	if st.FinishedTasks != 2 || st.ForgottenSessions != 2 || st.IdempotencyKeys != 2 || st.Threads != 2 {
		t.Fatalf("maintenance removed %+v", st)
	}
	for i, id := range ids {
		_, err := h.orch.Get(ctx, id)
		if (i < 2) != (err != nil) {
			t.Fatalf("task %d after maintenance: %v", i, err)
		}
	}
	// A task on a forgotten thread starts a fresh conversation.
	again := h.create(agentrt.Codex, "a", "again")
	h.waitStatus(again.ID, tasks.StatusCompleted)
	turns := h.codex.Turns()
	if sid := turns[len(turns)-1].Request().SessionID; sid != "" {
		t.Fatalf("task on a forgotten thread resumed %q", sid)
	}
	// A remembered thread still resumes.
	d := h.create(agentrt.Codex, "d", "again")
	h.waitStatus(d.ID, tasks.StatusCompleted)
	turns = h.codex.Turns()
	if turns[len(turns)-1].Request().SessionID != turns[3].SessionID() {
		t.Fatal("a remembered thread did not resume")
	}
}
