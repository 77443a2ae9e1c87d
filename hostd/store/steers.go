package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// Steer is one pending steer.
type Steer struct {
	ID     int64
	TaskID string
	Text   string
}

// AddSteer records a steer for a running task (with the answer to the
// request's Idempotency-Key when ctx carries tasks.WithAnswer).
// tasks.ErrConflict if the task is not running or already has the maximum of undelivered steers.
func (s *Store) AddSteer(ctx context.Context, taskID, text string) error {
	if len(text) > s.lim.MessageBytes {
		return fmt.Errorf("%w: steer_message is %d bytes, more than %d", tasks.ErrInvalid, len(text), s.lim.MessageBytes)
	}
	_, err := s.writeAnswered(ctx, func(tx *wtx) (tasks.Task, error) {
		t, err := statusOf(tx, taskID)
		if err != nil {
			return tasks.Task{}, err
		}
		if t.Status != tasks.StatusRunning {
			return tasks.Task{}, conflictStatus(t, "only a running task can be steered")
		}
		var pending int
		if err := tx.queryRow(`SELECT COUNT(*) FROM steers WHERE task_id = ? AND state = 'pending'`, taskID).Scan(&pending); err != nil {
			return tasks.Task{}, fmt.Errorf("counting pending steers: %w", err)
		}
		if pending >= s.lim.PendingSteers {
			return tasks.Task{}, fmt.Errorf("%w: task %s already has %d undelivered steers; wait for the agent to take them", tasks.ErrConflict, taskID, pending)
		}
		if _, err := tx.exec(`INSERT INTO steers (task_id, text, created_at) VALUES (?, ?, ?)`, taskID, text, nanos(s.now())); err != nil {
			return tasks.Task{}, fmt.Errorf("recording a steer: %w", err)
		}
		return t, nil
	})
	return err
}

// NextSteer returns the oldest pending steer of a task, if any.
func (s *Store) NextSteer(ctx context.Context, taskID string) (Steer, bool, error) {
	st := Steer{TaskID: taskID}
	err := s.queryRow(ctx, `SELECT id, text FROM steers WHERE task_id = ? AND state = 'pending' ORDER BY id LIMIT 1`, taskID).Scan(&st.ID, &st.Text)
	if errors.Is(err, sql.ErrNoRows) {
		return Steer{}, false, nil
	}
	if err != nil {
		return Steer{}, false, fmt.Errorf("reading pending steers: %w", err)
	}
	return st, true, nil
}

// PendingSteers counts the undelivered steers of a task that can still be
// delivered.
func (s *Store) PendingSteers(ctx context.Context, taskID string) (int, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM steers WHERE task_id = ? AND state = 'pending'`, taskID).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting pending steers: %w", err)
	}
	return n, nil
}

// UndeliveredSteers returns the texts of a task's steers that were
// recorded but never reached the agent, oldest first.
func (s *Store) UndeliveredSteers(ctx context.Context, taskID string) ([]string, error) {
	rows, err := s.query(ctx, `SELECT text FROM steers WHERE task_id = ? AND state = 'undelivered' ORDER BY id`, taskID)
	if err != nil {
		return nil, fmt.Errorf("reading undelivered steers: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("reading undelivered steers: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeliveredSteer records that a pending steer reached the running turn: it
// leaves the pending queue and its text becomes a task.message event
// (source user) if the task is still running. ok is false when the steer
// was no longer pending (its task ended meanwhile).
func (s *Store) DeliveredSteer(ctx context.Context, steerID int64) (ok bool, err error) {
	err = s.write(ctx, func(tx *wtx) error {
		var taskID, text string
		err := tx.queryRow(`DELETE FROM steers WHERE id = ? AND state = 'pending' RETURNING task_id, text`, steerID).Scan(&taskID, &text)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("marking steer %d delivered: %w", steerID, err)
		}
		ok = true
		var status string
		if err := tx.queryRow(`SELECT status FROM tasks WHERE id = ?`, taskID).Scan(&status); err != nil {
			return fmt.Errorf("reading task %q: %w", taskID, err)
		}
		if tasks.Status(status) != tasks.StatusRunning {
			return nil
		}
		return s.appendMessage(tx, taskID, SourceUser, text)
	})
	return ok, err
}

// closeSteers marks a task's pending steers undelivered: the turn they
// were meant for is over.
func closeSteers(tx *wtx, taskID string) error {
	if _, err := tx.exec(`UPDATE steers SET state = 'undelivered' WHERE task_id = ? AND state = 'pending'`, taskID); err != nil {
		return fmt.Errorf("closing the steers of task %q: %w", taskID, err)
	}
	return nil
}
