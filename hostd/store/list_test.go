package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

func TestActiveListIsRunningThenQueuedWithPositionsAndPages(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	var ids []string
	for i := range 9 {
		ids = append(ids, mustCreate(t, s, agentrt.Codex, fmt.Sprintf("th%d", i), "x").ID)
	}
	// Run the 3rd and 6th; finish the 1st (not listed).
	mustClaim(t, s, ids[2])
	mustClaim(t, s, ids[5])
	mustClaim(t, s, ids[0])
	if _, err := s.FinishTask(ctx, ids[0], Finish{Status: tasks.StatusCompleted}); err != nil {
		t.Fatal(err)
	}
	wantOrder := []string{ids[2], ids[5], ids[1], ids[3], ids[4], ids[6], ids[7], ids[8]}
	wantPos := []int{0, 0, 1, 2, 3, 4, 5, 6}
	var got []string
	var pos []int
	last := ""
	for {
		page, err := s.ListActive(ctx, last, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 3 {
			t.Fatalf("page of %d", len(page))
		}
		for _, lt := range page {
			got = append(got, lt.ID)
			pos = append(pos, lt.QueuePosition)
		}
		last = page[len(page)-1].ID
	}
	if !slices.Equal(got, wantOrder) || !slices.Equal(pos, wantPos) {
		t.Fatalf("order %v positions %v\nwant  %v positions %v", got, pos, wantOrder, wantPos)
	}
	if page, _ := s.ListActive(ctx, "", 0); len(page) != 5 {
		t.Fatalf("default page size %d, want 5", len(page))
	}
	// A cursor task that finished meanwhile still pages on (never skips).
	if _, err := s.FinishTask(ctx, ids[5], Finish{Status: tasks.StatusFailed, Error: "x"}); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListActive(ctx, ids[5], 100)
	if err != nil || len(page) != 6 || page[0].ID != ids[1] {
		t.Fatalf("after a finished cursor: %v, %v", page, err)
	}
	if _, err := s.ListActive(ctx, "no-such-task", 5); !errors.Is(err, tasks.ErrNotFound) {
		t.Fatalf("unknown cursor: %v", err)
	}
}

func TestThreadsListNewestFirstWithActiveTasksAndCounts(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	a1 := mustCreate(t, s, agentrt.Codex, "a", "x")
	mustCreate(t, s, agentrt.ClaudeCode, "b", "x")
	a2 := mustCreate(t, s, agentrt.Codex, "a", "y")
	mustClaim(t, s, a1.ID)
	b := mustCreate(t, s, agentrt.ClaudeCode, "b", "z")
	th, err := s.Threads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(th) != 2 || th[0].ID != "b" || th[1].ID != "a" {
		t.Fatalf("threads = %+v", th)
	}
	if th[0].Runtime != agentrt.ClaudeCode || th[0].TaskCount != 2 || len(th[0].ActiveTasks) != 2 || th[0].ActiveTasks[1].TaskID != b.ID {
		t.Fatalf("thread b = %+v", th[0])
	}
	wantA := []tasks.TaskRef{{TaskID: a1.ID, Status: tasks.StatusRunning}, {TaskID: a2.ID, Status: tasks.StatusQueued}}
	if !slices.Equal(th[1].ActiveTasks, wantA) || th[1].TaskCount != 2 {
		t.Fatalf("thread a = %+v", th[1])
	}
	if !th[0].LastUsedAt.After(th[1].LastUsedAt) {
		t.Fatal("last_used_at not newest first")
	}
}

func TestThreadTasksNewestUpdatedFirst(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	t1 := mustCreate(t, s, agentrt.Codex, "th", "1")
	t2 := mustCreate(t, s, agentrt.Codex, "th", "2")
	mustCreate(t, s, agentrt.Codex, "other", "x")
	if _, err := s.EditTask(ctx, t1.ID, "1b"); err != nil { // t1 is now the most recently updated
		t.Fatal(err)
	}
	got, err := s.ThreadTasks(ctx, "th")
	if err != nil || len(got) != 2 || got[0].ID != t1.ID || got[1].ID != t2.ID {
		t.Fatalf("ThreadTasks = %+v, %v", got, err)
	}
	if _, err := s.ThreadTasks(ctx, "never-used"); !errors.Is(err, tasks.ErrNotFound) {
		t.Fatalf("unknown thread: %v", err)
	}
}

func TestEmptyListsAreEmptyNotNil(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	if l, err := s.ListActive(ctx, "", 5); err != nil || l == nil {
		t.Fatalf("ListActive = %#v, %v", l, err)
	}
	if e, err := s.Events(ctx, tasks.EventQuery{}); err != nil || e == nil {
		t.Fatalf("Events = %#v, %v", e, err)
	}
	if th, err := s.Threads(ctx); err != nil || th == nil {
		t.Fatalf("Threads = %#v, %v", th, err)
	}
}
