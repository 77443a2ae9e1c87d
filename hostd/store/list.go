package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// MaxActivePage is the most tasks one ListActive call returns.
const MaxActivePage = 1000

// ListActive lists running then queued tasks in execution order (creation
// order within each), after the task lastSeenTaskID, at most limit
// (default 5). Running tasks have QueuePosition 0, queued ones 1, 2, ….
//
// A lastSeenTaskID that has finished since the caller saw it continues
// after it as if it were still running: a client may see a queued task
// twice, but never misses one. An unknown id is tasks.ErrNotFound.
func (s *Store) ListActive(ctx context.Context, lastSeenTaskID string, limit int) ([]tasks.ListedTask, error) {
	if limit <= 0 {
		limit = 5
	}
	limit = min(limit, MaxActivePage)
	var out []tasks.ListedTask
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rank, ord := -1, int64(-1)
		if lastSeenTaskID != "" {
			var status string
			err := tx.QueryRowContext(ctx, `SELECT status, ord FROM tasks WHERE id = ?`, lastSeenTaskID).Scan(&status, &ord)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: last_seen_task_id %q names no retained task", tasks.ErrNotFound, lastSeenTaskID)
			}
			if err != nil {
				return fmt.Errorf("reading task %q: %w", lastSeenTaskID, err)
			}
			rank = 0
			if tasks.Status(status) == tasks.StatusQueued {
				rank = 1
			}
		}
		rows, err := tx.QueryContext(ctx, `
			WITH active AS (
				SELECT `+taskCols+`, ord,
					CASE status WHEN 'running' THEN 0 ELSE 1 END AS rank,
					CASE status WHEN 'running' THEN 0
						ELSE ROW_NUMBER() OVER (PARTITION BY status ORDER BY ord) END AS pos
				FROM tasks WHERE status IN ('running', 'queued'))
			SELECT `+taskCols+`, pos FROM active
			WHERE (rank, ord) > (?, ?)
			ORDER BY rank, ord LIMIT ?`, rank, ord, limit)
		if err != nil {
			return fmt.Errorf("listing active tasks: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var lt tasks.ListedTask
			var pos int
			t, err := scanTask(scanFunc(func(dest ...any) error { return rows.Scan(append(dest, &pos)...) }))
			if err != nil {
				return fmt.Errorf("reading an active task: %w", err)
			}
			lt.Task, lt.QueuePosition = t, pos
			out = append(out, lt)
		}
		return rows.Err()
	})
	return out, err
}

type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// QueuedTasks calls fn for each queued task in creation order until fn
// returns false. It reads one snapshot; fn must not call the store.
func (s *Store) QueuedTasks(ctx context.Context, fn func(tasks.Task) bool) error {
	rows, err := s.query(ctx, `SELECT `+taskCols+` FROM tasks WHERE status = 'queued' ORDER BY ord`)
	if err != nil {
		return fmt.Errorf("listing queued tasks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return fmt.Errorf("reading a queued task: %w", err)
		}
		if !fn(t) {
			return nil
		}
	}
	return rows.Err()
}

// RunningTasks lists running tasks in creation order.
func (s *Store) RunningTasks(ctx context.Context) ([]tasks.Task, error) {
	rows, err := s.query(ctx, `SELECT `+taskCols+` FROM tasks WHERE status = 'running' ORDER BY ord`)
	if err != nil {
		return nil, fmt.Errorf("listing running tasks: %w", err)
	}
	defer rows.Close()
	var out []tasks.Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("reading a running task: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Counts are task counts by status (retained tasks only).
type Counts map[tasks.Status]int

// CountTasks counts retained tasks by status.
func (s *Store) CountTasks(ctx context.Context) (Counts, error) {
	rows, err := s.query(ctx, `SELECT status, COUNT(*) FROM tasks GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("counting tasks: %w", err)
	}
	defer rows.Close()
	c := Counts{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("counting tasks: %w", err)
		}
		c[tasks.Status(st)] = n
	}
	return c, rows.Err()
}
