package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// bulk runs fn in one write transaction (one fsync), so tests can drive
// bounds of thousands of rows through the real code paths quickly.
func bulk(t *testing.T, s *Store, fn func(tx *wtx) error) {
	t.Helper()
	if err := s.write(context.Background(), fn); err != nil {
		t.Fatalf("bulk write: %v", err)
	}
}

func count(t *testing.T, s *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.queryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestQueueCapOf1000QueuedTasks(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	bulk(t, s, func(tx *wtx) error {
		for i := range tasks.MaxQueuedTasks {
			if _, err := s.createTask(tx, NewTask{Runtime: agentrt.Codex, ThreadID: fmt.Sprintf("t%d", i%7), Input: "x"}); err != nil {
				return err
			}
		}
		return nil
	})
	_, err := s.CreateTask(ctx, NewTask{Runtime: agentrt.Codex, ThreadID: "t0", Input: "x"})
	if !errors.Is(err, tasks.ErrConflict) {
		t.Fatalf("1,001st queued task: %v, want ErrConflict", err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM tasks`); n != tasks.MaxQueuedTasks {
		t.Fatalf("refused create left %d tasks", n)
	}
	// Leaving the queue by claim or cancel makes room; the kept count
	// matches the rows.
	var first []string
	if err := s.QueuedTasks(ctx, func(tk tasks.Task) bool { first = append(first, tk.ID); return len(first) < 2 }); err != nil {
		t.Fatal(err)
	}
	mustClaim(t, s, first[0])
	if _, err := s.CancelQueued(ctx, first[1]); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, agentrt.Codex, "t1", "a")
	mustCreate(t, s, agentrt.Codex, "t1", "b")
	if _, err := s.CreateTask(ctx, NewTask{Runtime: agentrt.Codex, ThreadID: "t1", Input: "c"}); !errors.Is(err, tasks.ErrConflict) {
		t.Fatalf("create past the cap after two left: %v", err)
	}
	kept := count(t, s, `SELECT value FROM counters WHERE name = 'queued_tasks'`)
	real := count(t, s, `SELECT COUNT(*) FROM tasks WHERE status = 'queued'`)
	if kept != real || real != tasks.MaxQueuedTasks {
		t.Fatalf("queued counter %d, rows %d", kept, real)
	}
}

func TestFinishedTasksBeyondTheNewest1000ArePrunedActiveOnesNever(t *testing.T) {
	clock := newFakeClock()
	s, _ := openTest(t, Options{Now: clock.Now})
	ctx := context.Background()
	// Active tasks older than every finished one must survive.
	oldQueued := mustCreate(t, s, agentrt.Codex, "active-q", "x")
	oldRunning := mustCreate(t, s, agentrt.Codex, "active-r", "x")
	mustClaim(t, s, oldRunning.ID)
	if err := s.AddSteer(ctx, oldRunning.ID, "steer"); err != nil {
		t.Fatal(err)
	}
	const extra = 37
	var ids []string
	bulk(t, s, func(tx *wtx) error {
		for i := range tasks.MaxFinishedTasks + extra {
			tk, err := s.createTask(tx, NewTask{Runtime: agentrt.ClaudeCode, ThreadID: fmt.Sprintf("f%d", i), Input: "x"})
			if err != nil {
				return err
			}
			if _, _, err := s.transition(tx, tk.ID, tasks.StatusQueued, tasks.StatusRunning, "", ""); err != nil {
				return err
			}
			if _, err := tx.exec(`INSERT INTO steers (task_id, text, created_at) VALUES (?, 'old steer', 0)`, tk.ID); err != nil {
				return err
			}
			if _, _, err := s.transition(tx, tk.ID, tasks.StatusRunning, tasks.StatusCompleted, "out", ""); err != nil {
				return err
			}
			ids = append(ids, tk.ID)
		}
		return nil
	})
	st, err := s.Prune(ctx, clock.Now())
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if st.FinishedTasks != extra {
		t.Fatalf("pruned %d finished tasks, want %d", st.FinishedTasks, extra)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM tasks WHERE status = 'completed'`); n != tasks.MaxFinishedTasks {
		t.Fatalf("%d finished tasks kept", n)
	}
	for _, id := range ids[:extra] {
		if _, err := s.GetTask(ctx, id); !errors.Is(err, tasks.ErrNotFound) {
			t.Fatalf("oldest finished task %s still there: %v", id, err)
		}
	}
	for _, id := range []string{ids[extra], ids[len(ids)-1], oldQueued.ID, oldRunning.ID} {
		if _, err := s.GetTask(ctx, id); err != nil {
			t.Fatalf("task %s pruned: %v", id, err)
		}
	}
	if n := count(t, s, `SELECT COUNT(*) FROM steers`); n != tasks.MaxFinishedTasks+1 {
		t.Fatalf("%d steers left; the pruned tasks' steers must go with them", n)
	}
	// Their threads are gone too (no task, no session); the rest stay.
	if n := count(t, s, `SELECT COUNT(*) FROM threads`); n != tasks.MaxFinishedTasks+2 {
		t.Fatalf("%d threads left", n)
	}
}

func TestEventLogKeepsTheNewest10000AndNeverReusesSeq(t *testing.T) {
	s, path := openTest(t, Options{})
	ctx := context.Background()
	const extra = 123
	bulk(t, s, func(tx *wtx) error {
		for range tasks.MaxEvents + extra {
			if err := s.appendEvent(tx, tasks.EventRuntimeActive, "", []byte(`{"agent_runtime":"codex"}`)); err != nil {
				return err
			}
		}
		return nil
	})
	// Enforced on commit, not only hourly.
	if n := count(t, s, `SELECT COUNT(*) FROM events`); n != tasks.MaxEvents {
		t.Fatalf("%d events kept, want %d", n, tasks.MaxEvents)
	}
	if lo := count(t, s, `SELECT MIN(seq) FROM events`); lo != extra+1 {
		t.Fatalf("oldest kept seq %d, want %d", lo, extra+1)
	}
	page, err := s.Events(ctx, tasks.EventQuery{Since: 0, Limit: 1})
	if err != nil || len(page) != 1 || page[0].Seq != extra+1 {
		t.Fatalf("first page after pruning = %+v, %v", page, err)
	}
	last, _ := s.LastSeq(ctx)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{})
	if err := s.AppendRuntimeEvent(ctx, tasks.EventRuntimeDeactivated, agentrt.ClaudeCode); err != nil {
		t.Fatal(err)
	}
	now, _ := s.LastSeq(ctx)
	if now != last+1 {
		t.Fatalf("seq after restart = %d, want %d", now, last+1)
	}
	if st, err := s.Prune(ctx, time.Now()); err != nil || st.Events != 0 {
		t.Fatalf("Prune found %d extra events: %v", st.Events, err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM events`); n != tasks.MaxEvents {
		t.Fatalf("%d events after restart", n)
	}
	// Even with every event gone, a number is never handed out again.
	bulk(t, s, func(tx *wtx) error { _, err := tx.exec(`DELETE FROM events`); return err })
	if err := s.AppendRuntimeEvent(ctx, tasks.EventRuntimeActive, agentrt.Codex); err != nil {
		t.Fatal(err)
	}
	if after, _ := s.LastSeq(ctx); after != now+1 {
		t.Fatalf("seq after emptying the log = %d, want %d", after, now+1)
	}
}

func TestIdempotencyKeysBeyond10000OrOlderThan24hArePruned(t *testing.T) {
	clock := newFakeClock()
	s, _ := openTest(t, Options{Now: clock.Now})
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const keys, extra = 10_000, 25
	bulk(t, s, func(tx *wtx) error {
		for i := range keys + extra {
			if _, err := tx.exec(`INSERT INTO idempotency (key, method, path, done, status, body, created_at) VALUES (?, 'POST', '/v1/tasks', 1, 200, '{}', ?)`,
				fmt.Sprintf("k-%05d", i), nanos(base.Add(time.Duration(i)*time.Second))); err != nil {
				return err
			}
		}
		return nil
	})
	now := base.Add(time.Duration(keys+extra) * time.Second)
	st, err := s.Prune(ctx, now)
	if err != nil || st.IdempotencyKeys != extra {
		t.Fatalf("Prune removed %d keys (%v), want %d", st.IdempotencyKeys, err, extra)
	}
	if _, existing, _ := s.BeginIdempotent(ctx, "k-00024", "POST", "/v1/tasks", now); existing {
		t.Fatal("a key beyond the newest 10,000 was kept")
	}
	if _, existing, _ := s.BeginIdempotent(ctx, "k-00025", "POST", "/v1/tasks", now); !existing {
		t.Fatal("the oldest of the newest 10,000 was dropped")
	}
	// 24 h later everything older than the window goes.
	later := now.Add(24 * time.Hour)
	if _, err := s.Prune(ctx, later); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM idempotency`); n != 0 {
		t.Fatalf("%d keys older than 24 h kept", n)
	}
}

func TestThreadSessionsBeyondTheNewest1000AreForgotten(t *testing.T) {
	clock := newFakeClock()
	s, _ := openTest(t, Options{Now: clock.Now})
	ctx := context.Background()
	const extra = 10
	bulk(t, s, func(tx *wtx) error {
		for i := range tasks.MaxRememberedThread + extra {
			if _, err := tx.exec(`INSERT INTO threads (id, runtime, session_id, last_used_at) VALUES (?, 'codex', ?, ?)`,
				fmt.Sprintf("th-%04d", i), fmt.Sprintf("sess-%d", i), nanos(clock.Now())); err != nil {
				return err
			}
		}
		return nil
	})
	// th-0000 keeps a retained task, so its ownership must survive.
	mustCreate(t, s, agentrt.Codex, "th-0000", "x")
	if err := s.SetThreadSession(ctx, "th-0001", "sess-1"); err != nil { // used again: now among the newest
		t.Fatal(err)
	}
	st, err := s.Prune(ctx, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.ForgottenSessions != extra {
		t.Fatalf("forgot %d sessions, want %d", st.ForgottenSessions, extra)
	}
	if sid, _ := s.ThreadSession(ctx, "th-0001"); sid != "sess-1" {
		t.Fatalf("recently used thread lost its session: %q", sid)
	}
	if sid, _ := s.ThreadSession(ctx, "th-0002"); sid != "" {
		t.Fatalf("least recently used thread kept session %q", sid)
	}
	if n := count(t, s, `SELECT COUNT(*) FROM threads WHERE session_id != ''`); n != tasks.MaxRememberedThread {
		t.Fatalf("%d sessions remembered", n)
	}
	if rt, ok, _ := s.ThreadOwner(ctx, "th-0000"); !ok || rt != agentrt.Codex {
		t.Fatal("a thread with a retained task lost its owner")
	}
	if _, ok, _ := s.ThreadOwner(ctx, "th-0002"); ok {
		t.Fatal("a forgotten thread with no task was kept")
	}
}

func TestStoredMessagesAreCappedWithAMarker(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	task := mustCreate(t, s, agentrt.Codex, "th", "x")
	mustClaim(t, s, task.ID)
	huge := strings.Repeat("ü", tasks.MaxMessageBytes) // 2 bytes each: twice the cap
	if _, err := s.AppendAgentMessage(ctx, task.ID, huge); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishTask(ctx, task.ID, Finish{Status: tasks.StatusCompleted, Output: huge}); err != nil {
		t.Fatal(err)
	}
	evs := allEvents(t, s, task.ID)
	m, _ := messageOf(t, evs[2])
	got, _ := s.GetTask(ctx, task.ID)
	for what, v := range map[string]string{"event message": m, "output_message": got.Output} {
		if len(v) > tasks.MaxMessageBytes || !utf8.ValidString(v) {
			t.Fatalf("%s: %d bytes, valid UTF-8 %v", what, len(v), utf8.ValidString(v))
		}
		if !strings.HasSuffix(v, fmt.Sprintf("[truncated by TrustyClaw: the message had %d bytes]", len(huge))) {
			t.Fatalf("%s has no truncation marker: …%q", what, v[len(v)-60:])
		}
		if !strings.HasPrefix(huge, strings.SplitN(v, "\n[truncated", 2)[0]) {
			t.Fatalf("%s is not a prefix of the message", what)
		}
	}
	// Inputs and steers are validated, never silently cut.
	tooBig := strings.Repeat("a", tasks.MaxMessageBytes+1)
	if _, err := s.CreateTask(ctx, NewTask{Runtime: agentrt.Codex, ThreadID: "th", Input: tooBig}); !errors.Is(err, tasks.ErrInvalid) {
		t.Fatalf("oversized input: %v", err)
	}
}

func TestSessionsExpireAndAreBounded(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := s.CreateSession(ctx, "h1", now.Add(12*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.SessionValid(ctx, "h1", now); !ok {
		t.Fatal("fresh session invalid")
	}
	if ok, _ := s.SessionValid(ctx, "h1", now.Add(12*time.Hour)); ok {
		t.Fatal("session valid at its expiry")
	}
	if ok, _ := s.SessionValid(ctx, "other", now); ok {
		t.Fatal("unknown session valid")
	}
	if err := s.DeleteSession(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.SessionValid(ctx, "h1", now); ok {
		t.Fatal("deleted session valid")
	}
	bulk(t, s, func(tx *wtx) error {
		for i := range MaxSessions + 5 {
			if _, err := tx.exec(`INSERT INTO sessions (token_hash, expires_at, created_at) VALUES (?, ?, ?)`,
				fmt.Sprintf("s%d", i), nanos(now.Add(time.Hour)), i); err != nil {
				return err
			}
		}
		_, err := tx.exec(`INSERT INTO sessions (token_hash, expires_at, created_at) VALUES ('expired', ?, 999999)`, nanos(now))
		return err
	})
	st, err := s.Prune(ctx, now)
	if err != nil || st.Sessions != 6 {
		t.Fatalf("pruned %d sessions (%v), want 6", st.Sessions, err)
	}
	if ok, _ := s.SessionValid(ctx, "s4", now); ok {
		t.Fatal("a session beyond the newest 1,000 kept")
	}
}
