package store

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

func TestTaskLifecycleWritesTaskAndEventsTogether(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	task := mustCreate(t, s, agentrt.Codex, "th-1", "hello")
	if task.Status != tasks.StatusQueued || task.Runtime != agentrt.Codex || task.ThreadID != "th-1" || task.Input != "hello" {
		t.Fatalf("created task = %+v", task)
	}
	got, err := s.GetTask(ctx, task.ID)
	if err != nil || got != task {
		t.Fatalf("GetTask = %+v, %v; want %+v", got, err, task)
	}
	running := mustClaim(t, s, task.ID)
	if running.Status != tasks.StatusRunning || !running.UpdatedAt.After(task.UpdatedAt) {
		t.Fatalf("claimed task = %+v", running)
	}
	if ok, err := s.AppendAgentMessage(ctx, task.ID, "working"); err != nil || !ok {
		t.Fatalf("AppendAgentMessage = %v, %v", ok, err)
	}
	if ok, err := s.FinishTask(ctx, task.ID, Finish{Status: tasks.StatusCompleted, Output: "done"}); err != nil || !ok {
		t.Fatalf("FinishTask = %v, %v", ok, err)
	}
	final, _ := s.GetTask(ctx, task.ID)
	if final.Status != tasks.StatusCompleted || final.Output != "done" || final.Error != "" {
		t.Fatalf("final task = %+v", final)
	}
	evs := allEvents(t, s, task.ID)
	want := []string{tasks.EventTaskMessage, tasks.EventTaskStarted, tasks.EventTaskMessage, tasks.EventTaskCompleted}
	if !slices.Equal(eventTypes(evs), want) {
		t.Fatalf("events = %v, want %v", eventTypes(evs), want)
	}
	if m, src := messageOf(t, evs[0]); m != "hello" || src != SourceUser {
		t.Fatalf("first message = %q/%q", m, src)
	}
	if m, src := messageOf(t, evs[2]); m != "working" || src != SourceAgent {
		t.Fatalf("agent message = %q/%q", m, src)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq <= evs[i-1].Seq {
			t.Fatalf("seq not increasing: %d then %d", evs[i-1].Seq, evs[i].Seq)
		}
	}
}

func TestFinishAfterKillNeverResurrectsTheTask(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	task := mustCreate(t, s, agentrt.ClaudeCode, "th", "x")
	mustClaim(t, s, task.ID)
	if _, err := s.KillTask(ctx, task.ID); err != nil {
		t.Fatalf("KillTask: %v", err)
	}
	for _, f := range []Finish{{Status: tasks.StatusCompleted, Output: "late"}, {Status: tasks.StatusFailed, Error: "late"}} {
		ok, err := s.FinishTask(ctx, task.ID, f)
		if err != nil || ok {
			t.Fatalf("FinishTask after kill = %v, %v; want false, nil", ok, err)
		}
	}
	if ok, err := s.AppendAgentMessage(ctx, task.ID, "late message"); err != nil || ok {
		t.Fatalf("AppendAgentMessage after kill = %v, %v", ok, err)
	}
	if _, ok, err := s.ClaimTask(ctx, task.ID); err != nil || ok {
		t.Fatalf("ClaimTask after kill = %v, %v", ok, err)
	}
	got, _ := s.GetTask(ctx, task.ID)
	if got.Status != tasks.StatusCancelled || got.Output != "" {
		t.Fatalf("task after late finish = %+v", got)
	}
	types := eventTypes(allEvents(t, s, task.ID))
	if types[len(types)-1] != tasks.EventTaskCancelled || slices.Contains(types, tasks.EventTaskCompleted) {
		t.Fatalf("events = %v", types)
	}
}

func TestConditionalTransitionsReportConflictAndNotFound(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	q := mustCreate(t, s, agentrt.Codex, "a", "x")
	if _, err := s.KillTask(ctx, q.ID); !errors.Is(err, tasks.ErrConflict) {
		t.Fatalf("kill queued: %v", err)
	}
	if err := s.AddSteer(ctx, q.ID, "s"); !errors.Is(err, tasks.ErrConflict) {
		t.Fatalf("steer queued: %v", err)
	}
	if _, err := s.EditTask(ctx, q.ID, "new input"); err != nil {
		t.Fatalf("edit queued: %v", err)
	}
	mustClaim(t, s, q.ID)
	if _, err := s.CancelQueued(ctx, q.ID); !errors.Is(err, tasks.ErrConflict) {
		t.Fatalf("cancel running: %v", err)
	}
	if _, err := s.EditTask(ctx, q.ID, "y"); !errors.Is(err, tasks.ErrConflict) {
		t.Fatalf("edit running: %v", err)
	}
	for name, err := range map[string]error{
		"get":    func() error { _, err := s.GetTask(ctx, "nope"); return err }(),
		"cancel": func() error { _, err := s.CancelQueued(ctx, "nope"); return err }(),
		"kill":   func() error { _, err := s.KillTask(ctx, "nope"); return err }(),
		"edit":   func() error { _, err := s.EditTask(ctx, "nope", "x"); return err }(),
		"steer":  s.AddSteer(ctx, "nope", "x"),
		"events": func() error { _, err := s.Events(ctx, tasks.EventQuery{TaskID: "nope"}); return err }(),
	} {
		if !errors.Is(err, tasks.ErrNotFound) {
			t.Errorf("%s on unknown task: %v, want ErrNotFound", name, err)
		}
	}
}
