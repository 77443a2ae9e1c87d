package store

import (
	"context"
	"errors"
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
// (tasks.WithAnswer) commits the Idempotency-Key record in the same
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
	task, err := s.CreateTask(tasks.WithAnswer(ctx, "k1", answerOf), NewTask{Runtime: agentrt.Codex, ThreadID: "th", Input: "hi"})
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
		task, err := s.CreateTask(tasks.WithAnswer(ctx, key, answerOf), NewTask{Runtime: agentrt.Codex, ThreadID: "th", Input: key})
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
	if _, err := s.CreateTask(tasks.WithAnswer(ctx, "unreserved", answerOf), NewTask{Runtime: agentrt.Codex, ThreadID: "th", Input: "x"}); err != nil {
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
	_, err := s.CreateTask(tasks.WithAnswer(ctx, "k", answerOf), NewTask{Runtime: agentrt.Codex, ThreadID: "owned", Input: "x"})
	if err == nil {
		t.Fatal("create on another runtime's thread succeeded")
	}
	rec, existing, _ := s.BeginIdempotent(ctx, "k", "POST", "/v1/tasks", time.Now())
	if !existing || rec.Done {
		t.Errorf("after a refused create: %+v existing=%v, want the bare reservation", rec, existing)
	}
}

// TestMutationAnswersCommittedWithTheChange: edit, steer, cancel and kill
// carry their answer like create does — one commit, and after a restart
// before the API's FinishIdempotent a retry of the key replays the
// original answer instead of meeting the state the first run left (a 409
// "task is cancelled" for a retried kill). A refused mutation stores
// nothing.
func TestMutationAnswersCommittedWithTheChange(t *testing.T) {
	accepted := func(tasks.Task) (int, []byte, error) { return 200, []byte(`{"status":"accepted"}`), nil }
	for _, tc := range []struct {
		name    string
		running bool // the mutation needs a running task
		answer  tasks.AnswerFunc
		do      func(ctx context.Context, s *Store, id string) error
	}{
		{"edit", false, answerOf, func(ctx context.Context, s *Store, id string) error {
			_, err := s.EditTask(ctx, id, "edited")
			return err
		}},
		{"cancel", false, accepted, func(ctx context.Context, s *Store, id string) error {
			_, err := s.CancelQueued(ctx, id)
			return err
		}},
		{"steer", true, accepted, func(ctx context.Context, s *Store, id string) error {
			return s.AddSteer(ctx, id, "steer")
		}},
		{"kill", true, accepted, func(ctx context.Context, s *Store, id string) error {
			_, err := s.KillTask(ctx, id)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, path := openTest(t, Options{})
			ctx := context.Background()
			now := time.Now()
			task := mustCreate(t, s, agentrt.Codex, "th", "input")
			if tc.running {
				mustClaim(t, s, task.ID)
			}
			if _, _, err := s.BeginIdempotent(ctx, "k", "POST", "/v1/x", now); err != nil {
				t.Fatal(err)
			}
			before := s.WriterStats()
			if err := tc.do(tasks.WithAnswer(ctx, "k", tc.answer), s, task.ID); err != nil {
				t.Fatal(err)
			}
			if d := s.WriterStats().Batches - before.Batches; d != 1 {
				t.Errorf("%s with its answer took %d commits, want 1", tc.name, d)
			}
			_, want, _ := tc.answer(task)

			// A second run of the same mutation is refused and stores
			// nothing under its own key.
			if _, _, err := s.BeginIdempotent(ctx, "k2", "POST", "/v1/x", now); err != nil {
				t.Fatal(err)
			}
			if tc.name == "cancel" || tc.name == "kill" { // a second edit or steer is legal
				if err := tc.do(tasks.WithAnswer(ctx, "k2", tc.answer), s, task.ID); !errors.Is(err, tasks.ErrConflict) {
					t.Errorf("second %s: %v, want a conflict", tc.name, err)
				}
				if rec, _, _ := s.BeginIdempotent(ctx, "k2", "POST", "/v1/x", now); rec.Done {
					t.Errorf("a refused %s stored an answer: %+v", tc.name, rec)
				}
			}

			// The process dies before FinishIdempotent.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openAt(t, path, Options{})
			rec, existing, err := s.BeginIdempotent(ctx, "k", "POST", "/v1/x", now)
			if err != nil || !existing || !rec.Done || rec.Status != 200 || string(rec.Body) != string(want) {
				t.Fatalf("replay after restart: %+v existing=%v %v; want %s", rec, existing, err, want)
			}
		})
	}
}
