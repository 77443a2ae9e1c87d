package orchestrator

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/fakert"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

const raceIterations = 200

// checkTerminalEvents asserts a finished task has exactly one terminal
// event, that it matches the status, and that nothing follows it.
func checkTerminalEvents(t *testing.T, h *harness, task tasks.Task) {
	t.Helper()
	evs := types(h.events(task.ID))
	terminal := map[string]tasks.Status{
		tasks.EventTaskCompleted: tasks.StatusCompleted,
		tasks.EventTaskFailed:    tasks.StatusFailed,
		tasks.EventTaskCancelled: tasks.StatusCancelled,
	}
	n := 0
	for _, e := range evs {
		if _, ok := terminal[e]; ok {
			n++
		}
	}
	last := evs[len(evs)-1]
	if n != 1 || terminal[last] != task.Status {
		t.Fatalf("task %s is %s with events %v", task.ID, task.Status, evs)
	}
}

func TestKillRacingCompletionNeverMakesAnInvalidTransition(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	kills, completions := 0, 0
	for i := range raceIterations {
		g := gate()
		h.codex.PushFor("th", fakert.Script{Steps: []fakert.Step{fakert.Say("working"), fakert.Gate(g), fakert.Complete("done")}})
		task := h.create(agentrt.Codex, "th", "x")
		turns, err := h.codex.WaitTurns(h.ctx(), i+1)
		if err != nil {
			t.Fatal(err)
		}
		h.waitStatus(task.ID, tasks.StatusRunning)
		// Three interleavings: truly concurrent; the turn already ended
		// and its worker is recording completion; the kill first.
		var killErr error
		switch i % 3 {
		case 0:
			var wg sync.WaitGroup
			wg.Go(func() { close(g) })
			wg.Go(func() { killErr = h.orch.Kill(h.ctx(), task.ID) })
			wg.Wait()
		case 1:
			close(g)
			<-turns[i].Done()
			killErr = h.orch.Kill(h.ctx(), task.ID)
		case 2:
			killErr = h.orch.Kill(h.ctx(), task.ID)
			close(g)
		}
		<-turns[i].Done()
		var final tasks.Task
		h.waitFor("the worker to release the thread", func() bool {
			final = h.get(task.ID)
			return final.Status.Finished() && len(h.orch.ActiveTaskIDs(agentrt.Codex)) == 0 && h.orch.jobOf(task.ID) == nil
		})
		switch {
		case killErr == nil:
			kills++
			if final.Status != tasks.StatusCancelled || final.Output != "" {
				t.Fatalf("iteration %d: kill accepted but task is %+v", i, final)
			}
		case errors.Is(killErr, tasks.ErrConflict):
			completions++
			if final.Status != tasks.StatusCompleted || final.Output != "done" {
				t.Fatalf("iteration %d: kill refused but task is %+v", i, final)
			}
		default:
			t.Fatalf("iteration %d: Kill: %v", i, killErr)
		}
		checkTerminalEvents(t, h, final)
	}
	t.Logf("%d kills won, %d completions won", kills, completions)
}

func TestSteerRacingCompletionIsDeliveredOrRecordedNeverLost(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	delivered, undelivered, refused := 0, 0, 0
	for i := range raceIterations {
		g := gate()
		h.claude.PushFor("th", fakert.Script{Steps: []fakert.Step{fakert.Gate(g), fakert.Complete("done")}})
		task := h.create(agentrt.ClaudeCode, "th", "x")
		turns, err := h.claude.WaitTurns(h.ctx(), i+1)
		if err != nil {
			t.Fatal(err)
		}
		h.waitStatus(task.ID, tasks.StatusRunning)
		// Three interleavings: truly concurrent; the steer taken by the
		// turn just before it completes; the turn already ended.
		var steerErr error
		switch i % 3 {
		case 0:
			var wg sync.WaitGroup
			wg.Go(func() { close(g) })
			wg.Go(func() { steerErr = h.orch.Steer(h.ctx(), task.ID, "steer") })
			wg.Wait()
		case 1:
			steerErr = h.orch.Steer(h.ctx(), task.ID, "steer")
			if _, err := turns[i].WaitSteers(h.ctx(), 1); err != nil {
				t.Fatal(err)
			}
			close(g)
		case 2:
			close(g)
			<-turns[i].Done()
			steerErr = h.orch.Steer(h.ctx(), task.ID, "steer")
		}
		final := h.waitStatus(task.ID, tasks.StatusCompleted)
		h.waitFor("the worker to release the thread", func() bool { return h.orch.jobOf(task.ID) == nil })
		checkTerminalEvents(t, h, final)
		took := slices.Contains(turns[i].Steers(), "steer")
		logged := slices.Contains(messages(t, h.events(task.ID)), msg{"steer", "user"})
		und, err := h.st.UndeliveredSteers(h.ctx(), task.ID)
		if err != nil {
			t.Fatal(err)
		}
		pending, _ := h.st.PendingSteers(h.ctx(), task.ID)
		switch {
		case errors.Is(steerErr, tasks.ErrConflict):
			refused++
			if took || logged || len(und) != 0 {
				t.Fatalf("iteration %d: refused steer reached the turn (%v) or the log (%v)", i, took, logged)
			}
		case steerErr != nil:
			t.Fatalf("iteration %d: Steer: %v", i, steerErr)
		case took:
			delivered++
			if !logged || len(und) != 0 {
				t.Fatalf("iteration %d: delivered steer logged=%v undelivered=%v", i, logged, und)
			}
		default:
			undelivered++
			if logged || !slices.Equal(und, []string{"steer"}) {
				t.Fatalf("iteration %d: accepted steer neither delivered nor kept: logged=%v undelivered=%v", i, logged, und)
			}
		}
		if pending != 0 {
			t.Fatalf("iteration %d: %d steers still pending on a finished task", i, pending)
		}
	}
	t.Logf("%d delivered, %d recorded undelivered, %d refused", delivered, undelivered, refused)
}
