package adminapi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// TestCreateIsOneCommit: through HTTP with the real store, a create's
// Idempotency-Key answer is committed with the task (the API renders it
// byte for byte as it answers), so a create costs one commit, not two,
// and leaves no reservation behind; a replay returns the same bytes.
func TestCreateIsOneCommit(t *testing.T) {
	s := newStack(t, agentrt.StatusAwaitingLogin) // nothing is claimed: the creates are the only writes
	// Start-up writes (maintenance, recovery) settle first.
	deadline := time.Now().Add(10 * time.Second)
	for prev := int64(-1); ; {
		cur := s.st.WriterStats().Batches
		if cur == prev {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("store never went quiet")
		}
		prev = cur
		time.Sleep(100 * time.Millisecond)
	}
	for i := range 5 {
		key := fmt.Sprintf("one-commit-%d", i)
		before := s.st.WriterStats()
		r := s.do("POST", "/v1/tasks", fmt.Sprintf(`{"agent_runtime":"codex","thread_id":"th","input_message":"task %d"}`, i), key)
		if r.status != 200 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		if d := s.st.WriterStats().Batches - before.Batches; d != 1 {
			t.Errorf("create %d took %d commits, want 1 (answer not committed with the task, or rendered differently)", i, d)
		}
		if n := s.st.InFlightIdempotent(); n != 0 {
			t.Errorf("%d reservations in flight after the create answered", n)
		}
		again := s.do("POST", "/v1/tasks", `{"agent_runtime":"codex","thread_id":"th","input_message":"other"}`, key)
		if again.status != 200 || string(again.body) != string(r.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay: %d %s (replayed=%q), first %s", again.status, again.body, again.header.Get("Idempotent-Replayed"), r.body)
		}
	}
}
