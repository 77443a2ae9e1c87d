package adminapi_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// TestTaskMutationIsOneCommit: through HTTP with the real store, the
// Idempotency-Key answer of a create, an edit and a cancel is committed
// with the change (the API renders it byte for byte as it answers, for
// both answer shapes: the task and {"status":"accepted"}), so each costs
// one commit, not two, and leaves no reservation behind; a replay returns
// the same bytes. Steer and kill use the same path (store tests and the
// crash test cover them; a running task's own writes would blur a commit
// count here).
func TestTaskMutationIsOneCommit(t *testing.T) {
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
	oneCommit := func(method, path, body, key string) result {
		t.Helper()
		before := s.st.WriterStats()
		r := s.do(method, path, body, key)
		if r.status != 200 {
			t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
		}
		if d := s.st.WriterStats().Batches - before.Batches; d != 1 {
			t.Errorf("%s %s took %d commits, want 1 (answer not committed with the change, or rendered differently)", method, path, d)
		}
		if n := s.st.InFlightIdempotent(); n != 0 {
			t.Errorf("%d reservations in flight after %s %s answered", n, method, path)
		}
		again := s.do(method, path, body, key)
		if again.status != 200 || string(again.body) != string(r.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay of %s %s: %d %s (replayed=%q), first %s", method, path, again.status, again.body, again.header.Get("Idempotent-Replayed"), r.body)
		}
		return r
	}
	for i := range 5 {
		r := oneCommit("POST", "/v1/tasks", fmt.Sprintf(`{"agent_runtime":"codex","thread_id":"th","input_message":"task %d"}`, i), fmt.Sprintf("create-%d", i))
		var created struct {
			TaskID string `json:"task_id"`
		}
		if err := json.Unmarshal(r.body, &created); err != nil || created.TaskID == "" {
			t.Fatalf("create answer %s: %v", r.body, err)
		}
		oneCommit("PUT", "/v1/tasks/"+created.TaskID, `{"input_message":"edited"}`, fmt.Sprintf("edit-%d", i))
		oneCommit("POST", "/v1/tasks/"+created.TaskID+"/cancel", "", fmt.Sprintf("cancel-%d", i))
	}
}
