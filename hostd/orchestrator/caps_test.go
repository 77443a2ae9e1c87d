package orchestrator

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/fakert"
	"github.com/trustyclaw/trustyclaw/hostd/store"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// The store's tests drive the real 1,000; here a lower cap keeps the run
// short under -race while checking what Create returns at the cap.
func TestQueueCapRefusesTheNextCreate(t *testing.T) {
	const queueCap = 100
	h := newHarness(t, harnessOpts{inactive: true, limits: store.Limits{QueuedTasks: queueCap}})
	ctx := h.ctx()
	var wg sync.WaitGroup
	errs := make(chan error, queueCap)
	for g := range 16 {
		wg.Go(func() {
			for i := g; i < queueCap; i += 16 {
				if _, err := h.orch.Create(ctx, agentrt.Codex, fmt.Sprintf("t-%d", i), "x"); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Create below the cap: %v", err)
	}
	_, err := h.orch.Create(ctx, agentrt.ClaudeCode, "one-more", "x")
	if !errors.Is(err, tasks.ErrConflict) || !strings.Contains(err.Error(), "100 tasks are already queued") {
		t.Fatalf("Create at the cap: %v, want ErrConflict naming the cap", err)
	}
	if c := h.counts(); c[tasks.StatusQueued] != queueCap {
		t.Fatalf("queued = %d", c[tasks.StatusQueued])
	}
	// Cancelling one makes room for exactly one.
	page, err := h.orch.ListActive(ctx, "", 1)
	if err != nil || len(page) != 1 {
		t.Fatalf("ListActive: %v %v", page, err)
	}
	if err := h.orch.Cancel(ctx, page[0].ID); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if _, err := h.orch.Create(ctx, agentrt.ClaudeCode, "one-more", "x"); err != nil {
		t.Fatalf("Create after a cancel: %v", err)
	}
}

func TestSteerCapOf20PendingSteers(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	// The turn takes no steers until released: CloseSteering is not used,
	// the gate step takes steers, so block delivery with a start gate
	// instead: the worker delivers steers only once the turn started.
	start := gate()
	h.codex.Push(fakert.Script{StartGate: start, Steps: []fakert.Step{fakert.AwaitSteers(tasks.MaxPendingSteers), fakert.Complete("steered")}})
	task := h.create(agentrt.Codex, "th", "x")
	h.waitStatus(task.ID, tasks.StatusRunning)
	ctx := h.ctx()
	for i := range tasks.MaxPendingSteers {
		if err := h.orch.Steer(ctx, task.ID, fmt.Sprintf("steer %d", i)); err != nil {
			t.Fatalf("steer %d: %v", i, err)
		}
	}
	err := h.orch.Steer(ctx, task.ID, "one too many")
	if !errors.Is(err, tasks.ErrConflict) || !strings.Contains(err.Error(), "20 undelivered steers") {
		t.Fatalf("21st steer: %v", err)
	}
	close(start)
	done := h.waitStatus(task.ID, tasks.StatusCompleted)
	if done.Output != "steered" {
		t.Fatalf("output = %q", done.Output)
	}
	steers := h.codex.Turns()[0].Steers()
	if len(steers) != tasks.MaxPendingSteers || steers[0] != "steer 0" || steers[19] != "steer 19" {
		t.Fatalf("turn took steers %v", steers)
	}
	var user []string
	for _, m := range messages(t, h.events(task.ID)) {
		if m.Source == "user" {
			user = append(user, m.Message)
		}
	}
	if len(user) != 1+tasks.MaxPendingSteers || user[1] != "steer 0" || user[20] != "steer 19" {
		t.Fatalf("user messages = %v", user)
	}
}

func TestInputLimitsCountCharactersNotBytes(t *testing.T) {
	h := newHarness(t, harnessOpts{inactive: true})
	ctx := h.ctx()
	max := strings.Repeat("é", tasks.MaxInputChars) // 100,000 bytes, 50,000 characters
	if _, err := h.orch.Create(ctx, agentrt.Codex, "t", max); err != nil {
		t.Fatalf("50,000 two-byte characters refused: %v", err)
	}
	for name, in := range map[string]string{
		"empty":          "",
		"50,001 chars":   max + "a",
		"invalid UTF-8":  "\xff\xfe",
		"emoji overflow": strings.Repeat("🙂", tasks.MaxInputChars+1),
	} {
		if _, err := h.orch.Create(ctx, agentrt.Codex, "t", in); !errors.Is(err, tasks.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	for _, th := range []string{"", strings.Repeat("a", 129), "has space", "slash/no", "ünï"} {
		if _, err := h.orch.Create(ctx, agentrt.Codex, th, "x"); !errors.Is(err, tasks.ErrInvalid) {
			t.Errorf("thread %q: %v, want ErrInvalid", th, err)
		}
	}
	if _, err := h.orch.Create(ctx, agentrt.Codex, strings.Repeat("a", 128)+"", "x"); err != nil {
		t.Errorf("128-char thread id: %v", err)
	}
	if _, err := h.orch.Create(ctx, agentrt.Codex, "A-z_0.9:x", "x"); err != nil {
		t.Errorf("thread id with every allowed punctuation: %v", err)
	}
	if _, err := h.orch.Create(ctx, "gemini", "t", "x"); !errors.Is(err, tasks.ErrInvalid) {
		t.Errorf("unknown runtime: %v", err)
	}
	task := h.create(agentrt.Codex, "edit", "x")
	if _, err := h.orch.Edit(ctx, task.ID, ""); !errors.Is(err, tasks.ErrInvalid) {
		t.Errorf("empty edit: %v", err)
	}
	if err := h.orch.Steer(ctx, task.ID, max+"a"); !errors.Is(err, tasks.ErrInvalid) {
		t.Errorf("long steer: %v", err)
	}
}

func TestThreadBelongsToItsFirstRuntime(t *testing.T) {
	h := newHarness(t, harnessOpts{inactive: true})
	h.create(agentrt.Codex, "shared", "x")
	_, err := h.orch.Create(h.ctx(), agentrt.ClaudeCode, "shared", "x")
	if !errors.Is(err, tasks.ErrConflict) || !strings.Contains(err.Error(), "belongs to the codex runtime") {
		t.Fatalf("other runtime on the thread: %v", err)
	}
	h.create(agentrt.Codex, "shared", "same runtime is fine")
}
