package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// fakeClock is a settable clock; each reading advances it by step so
// timestamps are distinct and ordered.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), step: time.Millisecond}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openTest(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "admin.db")
	s := openAt(t, path, opts)
	return s, path
}

func openAt(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	if opts.Now == nil {
		opts.Now = newFakeClock().Now
	}
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustCreate(t *testing.T, s *Store, rt agentrt.Type, thread, input string) tasks.Task {
	t.Helper()
	task, err := s.CreateTask(context.Background(), NewTask{Runtime: rt, ThreadID: thread, Input: input})
	if err != nil {
		t.Fatalf("CreateTask(%s, %s): %v", rt, thread, err)
	}
	return task
}

func mustClaim(t *testing.T, s *Store, id string) tasks.Task {
	t.Helper()
	task, ok, err := s.ClaimTask(context.Background(), id)
	if err != nil || !ok {
		t.Fatalf("ClaimTask(%s) = %v, %v", id, ok, err)
	}
	return task
}

// allEvents pages through every event (optionally of one task).
func allEvents(t *testing.T, s *Store, taskID string) []tasks.Event {
	t.Helper()
	var out []tasks.Event
	var since int64
	for {
		page, err := s.Events(context.Background(), tasks.EventQuery{Since: since, Limit: MaxEventPage, TaskID: taskID})
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		since = page[len(page)-1].Seq
	}
}

func eventTypes(evs []tasks.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func messageOf(t *testing.T, e tasks.Event) (msg, source string) {
	t.Helper()
	var p struct {
		Message string `json:"message"`
		Source  string `json:"source"`
	}
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		t.Fatalf("event %d payload %s: %v", e.Seq, e.Payload, err)
	}
	return p.Message, p.Source
}
