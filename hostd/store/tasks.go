package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

const taskCols = `id, status, runtime, thread_id, input, output, error, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanTask(r scanner) (tasks.Task, error) {
	var t tasks.Task
	var status, rt string
	var created, updated int64
	if err := r.Scan(&t.ID, &status, &rt, &t.ThreadID, &t.Input, &t.Output, &t.Error, &created, &updated); err != nil {
		return tasks.Task{}, err
	}
	t.Status = tasks.Status(status)
	t.Runtime = agentrt.Type(rt)
	t.CreatedAt = fromNanos(created)
	t.UpdatedAt = fromNanos(updated)
	return t, nil
}

// NewTask is a task to create.
type NewTask struct {
	Runtime  agentrt.Type
	ThreadID string
	Input    string
}

// CreateTask stores a queued task and its input as a task.message (source
// user) event, in one transaction — with the answer to the request's
// Idempotency-Key when ctx carries tasks.WithAnswer. It fails with
// tasks.ErrConflict when the queue is full or the thread belongs to another runtime. Input is stored
// verbatim; the caller validates its length (it must fit the message cap).
func (s *Store) CreateTask(ctx context.Context, nt NewTask) (tasks.Task, error) {
	if len(nt.Input) > s.lim.MessageBytes {
		return tasks.Task{}, fmt.Errorf("%w: input_message is %d bytes, more than %d", tasks.ErrInvalid, len(nt.Input), s.lim.MessageBytes)
	}
	return s.writeAnswered(ctx, func(tx *wtx) (tasks.Task, error) { return s.createTask(tx, nt) })
}

func (s *Store) createTask(tx *wtx, nt NewTask) (tasks.Task, error) {
	var queued int
	if err := tx.queryRow(`SELECT value FROM counters WHERE name = 'queued_tasks'`).Scan(&queued); err != nil {
		return tasks.Task{}, fmt.Errorf("counting queued tasks: %w", err)
	}
	if queued >= s.lim.QueuedTasks {
		return tasks.Task{}, fmt.Errorf("%w: %d tasks are already queued; wait for some to run or cancel some", tasks.ErrConflict, queued)
	}
	now := nanos(s.now())
	if err := s.useThread(tx, nt.ThreadID, nt.Runtime, now); err != nil {
		return tasks.Task{}, err
	}
	id := uuid.NewString()
	row := tx.queryRow(`INSERT INTO tasks (id, status, runtime, thread_id, input, created_at, updated_at)
		VALUES (?, 'queued', ?, ?, ?, ?, ?) RETURNING `+taskCols,
		id, string(nt.Runtime), nt.ThreadID, nt.Input, now, now)
	t, err := scanTask(row)
	if err != nil {
		return tasks.Task{}, fmt.Errorf("inserting the task: %w", err)
	}
	if err := s.appendMessage(tx, id, SourceUser, nt.Input); err != nil {
		return tasks.Task{}, err
	}
	return t, nil
}

// useThread claims threadID for rt if it is new, checks ownership if not,
// and marks it used at now. (On a conflict the caller's savepoint undoes
// the touch.)
func (s *Store) useThread(tx *wtx, threadID string, rt agentrt.Type, now int64) error {
	var owner string
	err := tx.queryRow(`INSERT INTO threads (id, runtime, last_used_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET last_used_at = MAX(last_used_at, excluded.last_used_at)
		RETURNING runtime`, threadID, string(rt), now).Scan(&owner)
	if err != nil {
		return fmt.Errorf("recording thread %q: %w", threadID, err)
	}
	if owner != string(rt) {
		return fmt.Errorf("%w: thread %q belongs to the %s runtime; use another thread_id for %s", tasks.ErrConflict, threadID, owner, rt)
	}
	return nil
}

func (s *Store) touchThread(tx *wtx, threadID string, now int64) error {
	if _, err := tx.exec(`UPDATE threads SET last_used_at = MAX(last_used_at, ?) WHERE id = ?`, now, threadID); err != nil {
		return fmt.Errorf("updating thread %q: %w", threadID, err)
	}
	return nil
}

// GetTask returns one task or tasks.ErrNotFound.
func (s *Store) GetTask(ctx context.Context, id string) (tasks.Task, error) {
	t, err := scanTask(s.queryRow(ctx, `SELECT `+taskCols+` FROM tasks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return tasks.Task{}, fmt.Errorf("%w: no such task %q", tasks.ErrNotFound, id)
	}
	if err != nil {
		return tasks.Task{}, fmt.Errorf("reading task %q: %w", id, err)
	}
	return t, nil
}

// statusOf reads a task's status inside tx; tasks.ErrNotFound if missing.
func statusOf(tx *wtx, id string) (tasks.Task, error) {
	t, err := scanTask(tx.queryRow(`SELECT `+taskCols+` FROM tasks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return tasks.Task{}, fmt.Errorf("%w: no such task %q", tasks.ErrNotFound, id)
	}
	if err != nil {
		return tasks.Task{}, fmt.Errorf("reading task %q: %w", id, err)
	}
	return t, nil
}

// transition moves task id from status from to status to, setting output
// and error, only if it is still in from. It returns the task after the
// change, or (current task, false) when the condition did not hold.
func (s *Store) transition(tx *wtx, id string, from, to tasks.Status, output, errMsg string) (tasks.Task, bool, error) {
	now := nanos(s.now())
	row := tx.queryRow(`UPDATE tasks SET status = ?, output = ?, error = ?, updated_at = MAX(updated_at, ?)
		WHERE id = ? AND status = ? RETURNING `+taskCols, string(to), output, errMsg, now, id, string(from))
	t, err := scanTask(row)
	if errors.Is(err, sql.ErrNoRows) {
		cur, err := statusOf(tx, id)
		return cur, false, err
	}
	if err != nil {
		return tasks.Task{}, false, fmt.Errorf("moving task %q from %s to %s: %w", id, from, to, err)
	}
	return t, true, nil
}

func conflictStatus(t tasks.Task, want string) error {
	return fmt.Errorf("%w: task %s is %s; %s", tasks.ErrConflict, t.ID, t.Status, want)
}

// EditTask replaces the input of a queued task and records the new input
// as a task.message (source user) event. tasks.ErrConflict unless queued.
func (s *Store) EditTask(ctx context.Context, id, input string) (tasks.Task, error) {
	if len(input) > s.lim.MessageBytes {
		return tasks.Task{}, fmt.Errorf("%w: input_message is %d bytes, more than %d", tasks.ErrInvalid, len(input), s.lim.MessageBytes)
	}
	return s.writeAnswered(ctx, func(tx *wtx) (tasks.Task, error) {
		row := tx.queryRow(`UPDATE tasks SET input = ?, updated_at = MAX(updated_at, ?)
			WHERE id = ? AND status = 'queued' RETURNING `+taskCols, input, nanos(s.now()), id)
		t, err := scanTask(row)
		if errors.Is(err, sql.ErrNoRows) {
			cur, err := statusOf(tx, id)
			if err != nil {
				return tasks.Task{}, err
			}
			return tasks.Task{}, conflictStatus(cur, "only a queued task can be edited")
		}
		if err != nil {
			return tasks.Task{}, fmt.Errorf("editing task %q: %w", id, err)
		}
		return t, s.appendMessage(tx, id, SourceUser, input)
	})
}

// CancelQueued cancels a queued task (task.cancelled event).
// tasks.ErrConflict unless queued.
func (s *Store) CancelQueued(ctx context.Context, id string) (tasks.Task, error) {
	return s.writeAnswered(ctx, func(tx *wtx) (tasks.Task, error) {
		t, ok, err := s.transition(tx, id, tasks.StatusQueued, tasks.StatusCancelled, "", "")
		if err != nil {
			return tasks.Task{}, err
		}
		if !ok {
			hint := "only a queued task can be cancelled"
			if t.Status == tasks.StatusRunning {
				hint += "; use kill for a running task"
			}
			return tasks.Task{}, conflictStatus(t, hint)
		}
		return t, s.appendEvent(tx, tasks.EventTaskCancelled, id, emptyPayload)
	})
}

// ClaimTask moves a queued task to running (task.started event) and marks
// its thread used. ok is false when the task is no longer queued.
func (s *Store) ClaimTask(ctx context.Context, id string) (task tasks.Task, ok bool, err error) {
	err = s.write(ctx, func(tx *wtx) error {
		t, applied, err := s.transition(tx, id, tasks.StatusQueued, tasks.StatusRunning, "", "")
		if err != nil || !applied {
			return err
		}
		if err := s.touchThread(tx, t.ThreadID, nanos(s.now())); err != nil {
			return err
		}
		task, ok = t, true
		return s.appendEvent(tx, tasks.EventTaskStarted, id, emptyPayload)
	})
	if err != nil {
		return tasks.Task{}, false, err
	}
	return task, ok, nil
}

// KillTask moves a running task to cancelled (task.cancelled event); its
// undelivered steers become undelivered for good. tasks.ErrConflict unless
// running.
func (s *Store) KillTask(ctx context.Context, id string) (tasks.Task, error) {
	return s.writeAnswered(ctx, func(tx *wtx) (tasks.Task, error) {
		t, ok, err := s.transition(tx, id, tasks.StatusRunning, tasks.StatusCancelled, "", "")
		if err != nil {
			return tasks.Task{}, err
		}
		if !ok {
			hint := "only a running task can be killed"
			if t.Status == tasks.StatusQueued {
				hint += "; use cancel for a queued task"
			}
			return tasks.Task{}, conflictStatus(t, hint)
		}
		if err := closeSteers(tx, id); err != nil {
			return tasks.Task{}, err
		}
		return t, s.appendEvent(tx, tasks.EventTaskCancelled, id, emptyPayload)
	})
}

// Finish is how a turn ended, for FinishTask.
type Finish struct {
	Status tasks.Status // StatusCompleted or StatusFailed
	Output string       // the last agent message (completed)
	Error  string       // why it failed (failed)
}

// FinishTask ends a running task as completed or failed, with its event,
// only if it is still running: a task cancelled meanwhile stays cancelled
// and ok is false. Output and error are capped like messages.
func (s *Store) FinishTask(ctx context.Context, id string, f Finish) (ok bool, err error) {
	var payload []byte
	var output, errMsg string
	switch f.Status {
	case tasks.StatusCompleted:
		output, _ = capMessage(f.Output, s.lim.MessageBytes)
		payload = emptyPayload
	case tasks.StatusFailed:
		errMsg, _ = capMessage(f.Error, s.lim.MessageBytes)
		if payload, err = marshalPayload(errorPayload{ErrorMessage: errMsg}); err != nil {
			return false, err
		}
	default:
		return false, fmt.Errorf("%w: a turn cannot finish as %q", tasks.ErrInvalid, f.Status)
	}
	evType := tasks.EventTaskCompleted
	if f.Status == tasks.StatusFailed {
		evType = tasks.EventTaskFailed
	}
	err = s.write(ctx, func(tx *wtx) error {
		t, applied, err := s.transition(tx, id, tasks.StatusRunning, f.Status, output, errMsg)
		if err != nil {
			return err
		}
		if err := closeSteers(tx, id); err != nil {
			return err
		}
		if !applied {
			return nil
		}
		ok = true
		if err := s.touchThread(tx, t.ThreadID, nanos(s.now())); err != nil {
			return err
		}
		return s.appendEvent(tx, evType, id, payload)
	})
	return ok, err
}

// FailRunning fails every running task of rt with errMsg (task.failed
// events) and returns their ids.
func (s *Store) FailRunning(ctx context.Context, rt agentrt.Type, errMsg string) ([]string, error) {
	var failed []string
	err := s.write(ctx, func(tx *wtx) error {
		failed = failed[:0]
		var err error
		failed, err = s.failRunning(tx, `SELECT id FROM tasks WHERE status = 'running' AND runtime = ? ORDER BY ord`, errMsg, string(rt))
		return err
	})
	return failed, err
}

func (s *Store) failRunning(tx *wtx, selectIDs, errMsg string, args ...any) ([]string, error) {
	rows, err := tx.query(selectIDs, args...)
	if err != nil {
		return nil, fmt.Errorf("listing running tasks: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("listing running tasks: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing running tasks: %w", err)
	}
	errMsg, _ = capMessage(errMsg, s.lim.MessageBytes)
	payload, err := marshalPayload(errorPayload{ErrorMessage: errMsg})
	if err != nil {
		return nil, err
	}
	var failed []string
	for _, id := range ids {
		_, ok, err := s.transition(tx, id, tasks.StatusRunning, tasks.StatusFailed, "", errMsg)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if err := closeSteers(tx, id); err != nil {
			return nil, err
		}
		if err := s.appendEvent(tx, tasks.EventTaskFailed, id, payload); err != nil {
			return nil, err
		}
		failed = append(failed, id)
	}
	return failed, nil
}

// AppendAgentMessage records a completed agent message of a running task
// (capped). ok is false, and nothing is written, when the task is no
// longer running, so a dying turn cannot add to a finished task.
func (s *Store) AppendAgentMessage(ctx context.Context, taskID, text string) (ok bool, err error) {
	err = s.write(ctx, func(tx *wtx) error {
		var status string
		err := tx.queryRow(`SELECT status FROM tasks WHERE id = ?`, taskID).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no such task %q", tasks.ErrNotFound, taskID)
		}
		if err != nil {
			return fmt.Errorf("reading task %q: %w", taskID, err)
		}
		if tasks.Status(status) != tasks.StatusRunning {
			return nil
		}
		ok = true
		return s.appendMessage(tx, taskID, SourceAgent, text)
	})
	return ok, err
}
