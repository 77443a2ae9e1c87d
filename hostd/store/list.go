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
		afterRunning, afterQueued := int64(0), int64(0) // ord cursors per section
		skipRunning := false
		if lastSeenTaskID != "" {
			var status string
			var ord int64
			err := tx.QueryRowContext(ctx, `SELECT status, ord FROM tasks WHERE id = ?`, lastSeenTaskID).Scan(&status, &ord)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: last_seen_task_id %q names no retained task", tasks.ErrNotFound, lastSeenTaskID)
			}
			if err != nil {
				return fmt.Errorf("reading task %q: %w", lastSeenTaskID, err)
			}
			if tasks.Status(status) == tasks.StatusQueued {
				skipRunning, afterQueued = true, ord
			} else {
				afterRunning = ord
			}
		}
		if !skipRunning {
			page, err := s.activeSection(ctx, tx, tasks.StatusRunning, afterRunning, limit)
			if err != nil {
				return err
			}
			out = append(out, page...)
		}
		if len(out) == limit {
			return nil
		}
		page, err := s.activeSection(ctx, tx, tasks.StatusQueued, afterQueued, limit-len(out))
		if err != nil || len(page) == 0 {
			return err
		}
		// Queue positions are absolute: count the queued tasks ahead.
		var ahead int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tasks WHERE status = 'queued' AND ord < (SELECT ord FROM tasks WHERE id = ?)`,
			page[0].ID).Scan(&ahead); err != nil {
			return fmt.Errorf("counting queued tasks: %w", err)
		}
		for i := range page {
			page[i].QueuePosition = ahead + 1 + i
		}
		out = append(out, page...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []tasks.ListedTask{}
	}
	return out, nil
}

// activeSection reads up to limit tasks of one status with ord > after,
// in order (QueuePosition left 0).
func (s *Store) activeSection(ctx context.Context, tx *sql.Tx, status tasks.Status, after int64, limit int) ([]tasks.ListedTask, error) {
	rows, err := s.txQuery(ctx, tx, `SELECT `+taskCols+` FROM tasks WHERE status = ? AND ord > ? ORDER BY ord LIMIT ?`, string(status), after, limit)
	if err != nil {
		return nil, fmt.Errorf("listing %s tasks: %w", status, err)
	}
	defer rows.Close()
	var out []tasks.ListedTask
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("reading a %s task: %w", status, err)
		}
		out = append(out, tasks.ListedTask{Task: t})
	}
	return out, rows.Err()
}

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
