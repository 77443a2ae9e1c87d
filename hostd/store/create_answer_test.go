package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

func answerOf(t tasks.Task) (int, []byte, error) {
	return 200, []byte(fmt.Sprintf(`{"task_id":%q}`, t.ID)), nil
}

// TestCreateAnswerCommittedWithTask: a create that carries its answer
// (tasks.WithCreateAnswer) commits the Idempotency-Key record in the same
// transaction, so a restart before the API's FinishIdempotent still
// replays that create instead of running it again (the duplicate a
// client's retry used to get after a kill), and FinishIdempotent with the
// same answer costs no second commit.
func TestCreateAnswerCommittedWithTask(t *testing.T) {
	s, path := openTest(t, Options{})
	ctx := context.Background()
	now := time.Now()
	if _, existing, err := s.BeginIdempotent(ctx, "k1", "POST", "/v1/tasks", now); err != nil || existing {
		t.Fatalf("BeginIdempotent: %v %v", existing, err)
	}
	before := s.WriterStats()
	task, err := s.CreateTask(tasks.WithCreateAnswer(ctx, "k1", answerOf), NewTask{Runtime: agentrt.Codex, ThreadID: "th", Input: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	_, want, _ := answerOf(task)
	if got := s.WriterStats().Batches - before.Batches; got != 1 {
		t.Errorf("create with its answer took %d commits, want 1", got)
	}
	// A concurrent replay now sees the committed answer.
	rec, existing, err := s.BeginIdempotent(ctx, "k1", "POST", "/v1/tasks", now)
	if err != nil || !existing || !rec.Done || string(rec.Body) != string(want) {
		t.Errorf("replay before FinishIdempotent: %+v %v %v", rec, existing, err)
	}

	// The process dies here, before FinishIdempotent.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{})
	rec, existing, err = s.BeginIdempotent(ctx, "k1", "POST", "/v1/tasks", now)
	if err != nil || !existing || !rec.Done || rec.Status != 200 || string(rec.Body) != string(want) {
		t.Fatalf("replay after restart: %+v existing=%v %v; want the create's answer %s", rec, existing, err, want)
	}
	if n := s.Recovery().DroppedReservations; n != 0 {
		t.Errorf("recovery dropped %d reservations", n)
	}
}

func TestCreateAnswerFinishIsFreeOnlyForTheSameAnswer(t *testing.T) {
	s, path := openTest(t, Options{})
	ctx := context.Background()
	now := time.Now()
	create := func(key string) tasks.Task {
		t.Helper()
		if _, _, err := s.BeginIdempotent(ctx, key, "POST", "/v1/tasks", now); err != nil {
			t.Fatal(err)
		}
		task, err := s.CreateTask(tasks.WithCreateAnswer(ctx, key, answerOf), NewTask{Runtime: agentrt.Codex, ThreadID: "th", Input: key})
		if err != nil {
			t.Fatal(err)
		}
		return task
	}

	same := create("same")
	_, body, _ := answerOf(same)
	before := s.WriterStats()
	if err := s.FinishIdempotent(ctx, "same", 200, body); err != nil {
		t.Fatal(err)
	}
	if d := s.WriterStats().Batches - before.Batches; d != 0 {
		t.Errorf("FinishIdempotent with the committed answer took %d commits, want 0", d)
	}
	if n := s.InFlightIdempotent(); n != 0 {
		t.Errorf("%d reservations left in flight", n)
	}

	// An answer that differs from the committed one (the API rendered
	// something else) is written: the client got that one.
	create("other")
	before = s.WriterStats()
	if err := s.FinishIdempotent(ctx, "other", 200, []byte(`{"other":true}`)); err != nil {
		t.Fatal(err)
	}
	if d := s.WriterStats().Batches - before.Batches; d != 1 {
		t.Errorf("FinishIdempotent with a different answer took %d commits, want 1", d)
	}

	// Without a reservation the answer is not stored (nothing to answer).
	if _, err := s.CreateTask(tasks.WithCreateAnswer(ctx, "unreserved", answerOf), NewTask{Runtime: agentrt.Codex, ThreadID: "th", Input: "x"}); err != nil {
		t.Fatal(err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{})
	rec, _, _ := s.BeginIdempotent(ctx, "other", "POST", "/v1/tasks", now)
	if string(rec.Body) != `{"other":true}` {
		t.Errorf("other: stored %s", rec.Body)
	}
	if rec, existing, _ := s.BeginIdempotent(ctx, "unreserved", "POST", "/v1/tasks", now); existing {
		t.Errorf("unreserved key has a record: %+v", rec)
	}
}

// A create refused inside the transaction stores no answer: the API
// stores its error answer itself.
func TestCreateAnswerNotStoredWhenCreateFails(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	mustCreate(t, s, agentrt.ClaudeCode, "owned", "first")
	if _, _, err := s.BeginIdempotent(ctx, "k", "POST", "/v1/tasks", time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateTask(tasks.WithCreateAnswer(ctx, "k", answerOf), NewTask{Runtime: agentrt.Codex, ThreadID: "owned", Input: "x"})
	if err == nil {
		t.Fatal("create on another runtime's thread succeeded")
	}
	rec, existing, _ := s.BeginIdempotent(ctx, "k", "POST", "/v1/tasks", time.Now())
	if !existing || rec.Done {
		t.Errorf("after a refused create: %+v existing=%v, want the bare reservation", rec, existing)
	}
}
