package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// MaxThreadList is the most threads Threads returns.
const MaxThreadList = 1000

// ThreadSession returns the runtime session recorded for a thread ("" when
// none is remembered: the thread is new, or was forgotten by pruning).
func (s *Store) ThreadSession(ctx context.Context, threadID string) (string, error) {
	var sid string
	err := s.queryRow(ctx, `SELECT session_id FROM threads WHERE id = ?`, threadID).Scan(&sid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the session of thread %q: %w", threadID, err)
	}
	return sid, nil
}

// SetThreadSession records the runtime session a thread's conversation
// lives in and marks the thread used.
func (s *Store) SetThreadSession(ctx context.Context, threadID, sessionID string) error {
	return s.write(ctx, func(tx *wtx) error {
		_, err := tx.exec(`UPDATE threads SET session_id = ?, last_used_at = MAX(last_used_at, ?) WHERE id = ?`,
			sessionID, nanos(s.now()), threadID)
		if err != nil {
			return fmt.Errorf("recording the session of thread %q: %w", threadID, err)
		}
		return nil
	})
}

// ThreadOwner returns the runtime a thread belongs to, or ok=false for an
// unknown thread.
func (s *Store) ThreadOwner(ctx context.Context, threadID string) (rt agentrt.Type, ok bool, err error) {
	var owner string
	err = s.queryRow(ctx, `SELECT runtime FROM threads WHERE id = ?`, threadID).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading thread %q: %w", threadID, err)
	}
	return agentrt.Type(owner), true, nil
}

// Threads lists known threads, most recently used first (id breaks ties),
// at most MaxThreadList, each with its active tasks in execution order and
// its number of retained tasks.
func (s *Store) Threads(ctx context.Context) ([]tasks.Thread, error) {
	var out []tasks.Thread
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			SELECT th.id, th.runtime, th.last_used_at,
				(SELECT COUNT(*) FROM tasks t WHERE t.thread_id = th.id)
			FROM threads th ORDER BY th.last_used_at DESC, th.id LIMIT ?`, MaxThreadList)
		if err != nil {
			return fmt.Errorf("listing threads: %w", err)
		}
		index := make(map[string]int)
		for rows.Next() {
			var th tasks.Thread
			var rt string
			var used int64
			if err := rows.Scan(&th.ID, &rt, &used, &th.TaskCount); err != nil {
				rows.Close()
				return fmt.Errorf("reading a thread: %w", err)
			}
			th.Runtime, th.LastUsedAt = agentrt.Type(rt), fromNanos(used)
			th.ActiveTasks = []tasks.TaskRef{}
			index[th.ID] = len(out)
			out = append(out, th)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("listing threads: %w", err)
		}
		active, err := tx.QueryContext(ctx, `SELECT id, status, thread_id FROM tasks
			WHERE status IN ('running', 'queued')
			ORDER BY CASE status WHEN 'running' THEN 0 ELSE 1 END, ord`)
		if err != nil {
			return fmt.Errorf("listing active tasks: %w", err)
		}
		defer active.Close()
		for active.Next() {
			var ref tasks.TaskRef
			var status, thread string
			if err := active.Scan(&ref.TaskID, &status, &thread); err != nil {
				return fmt.Errorf("reading an active task: %w", err)
			}
			ref.Status = tasks.Status(status)
			if i, ok := index[thread]; ok {
				out[i].ActiveTasks = append(out[i].ActiveTasks, ref)
			}
		}
		return active.Err()
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []tasks.Thread{}
	}
	return out, nil
}

// ThreadTasks lists a thread's retained tasks, newest UpdatedAt first (task
// id breaks ties), at most tasks.MaxThreadTasks. tasks.ErrNotFound for an
// unknown thread.
func (s *Store) ThreadTasks(ctx context.Context, threadID string) ([]tasks.Task, error) {
	var out []tasks.Task
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM threads WHERE id = ?`, threadID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no such thread %q", tasks.ErrNotFound, threadID)
		}
		if err != nil {
			return fmt.Errorf("reading thread %q: %w", threadID, err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+taskCols+` FROM tasks WHERE thread_id = ?
			ORDER BY updated_at DESC, id DESC LIMIT ?`, threadID, tasks.MaxThreadTasks)
		if err != nil {
			return fmt.Errorf("listing tasks of thread %q: %w", threadID, err)
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanTask(rows)
			if err != nil {
				return fmt.Errorf("reading a task of thread %q: %w", threadID, err)
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	if out == nil && err == nil {
		out = []tasks.Task{}
	}
	return out, err
}
