package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// MaxEventPage is the most events one Events call returns.
const MaxEventPage = 1000

// appendEvent adds one agent event inside tx. taskID "" stores NULL (a
// runtime event).
func (s *Store) appendEvent(tx *wtx, typ, taskID string, payload []byte) error {
	var tid any
	if taskID != "" {
		tid = taskID
	}
	if _, err := tx.exec(`INSERT INTO events (id, ts, type, task_id, payload) VALUES (?, ?, ?, ?, ?)`,
		uuid.NewString(), nanos(s.now()), typ, tid, string(payload)); err != nil {
		return fmt.Errorf("appending a %s event: %w", typ, err)
	}
	tx.events = true
	return nil
}

// appendMessage adds a task.message event with the text capped to the
// message size limit.
func (s *Store) appendMessage(tx *wtx, taskID, source, text string) error {
	text, _ = capMessage(text, s.lim.MessageBytes)
	p, err := marshalPayload(messagePayload{Message: text, Source: source})
	if err != nil {
		return err
	}
	return s.appendEvent(tx, tasks.EventTaskMessage, taskID, p)
}

// boundEvents keeps only the newest Events events; it runs inside every
// batch that appended events. seq is dense (AUTOINCREMENT, and rolled
// back inserts give their number back), so this is one range delete on
// the primary key, usually of a single row.
func (s *Store) boundEvents(tx *wtx, appended bool) error {
	if !appended {
		return nil
	}
	_, err := tx.exec(`DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?`, s.lim.Events)
	return err
}

// Events returns a page of agent events: seq > q.Since, oldest first, at
// most q.Limit (default 5, at most MaxEventPage). With q.TaskID it returns
// that task's events, or tasks.ErrNotFound if the task is not retained.
func (s *Store) Events(ctx context.Context, q tasks.EventQuery) ([]tasks.Event, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 5
	}
	limit = min(limit, MaxEventPage)
	since := max(q.Since, 0)
	var out []tasks.Event
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var rows *sql.Rows
		var err error
		if q.TaskID != "" {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM tasks WHERE id = ?`, q.TaskID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: no such task %q", tasks.ErrNotFound, q.TaskID)
			}
			if err != nil {
				return fmt.Errorf("looking up task %q: %w", q.TaskID, err)
			}
			rows, err = s.txQuery(ctx, tx, `SELECT seq, id, ts, type, task_id, payload FROM events
				WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?`, q.TaskID, since, limit)
			if err != nil {
				return fmt.Errorf("reading events of task %q: %w", q.TaskID, err)
			}
		} else {
			rows, err = s.txQuery(ctx, tx, `SELECT seq, id, ts, type, task_id, payload FROM events
				WHERE seq > ? ORDER BY seq LIMIT ?`, since, limit)
			if err != nil {
				return fmt.Errorf("reading events: %w", err)
			}
		}
		defer rows.Close()
		for rows.Next() {
			var ev tasks.Event
			var ts int64
			var tid sql.NullString
			var payload string
			if err := rows.Scan(&ev.Seq, &ev.ID, &ts, &ev.Type, &tid, &payload); err != nil {
				return fmt.Errorf("reading an event: %w", err)
			}
			ev.Timestamp = fromNanos(ts)
			ev.TaskID = tid.String
			ev.Payload = json.RawMessage(payload)
			out = append(out, ev)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []tasks.Event{}
	}
	return out, nil
}

// LastSeq is the newest event's seq (0 when there is none). Used by tests
// and by stream consumers that start at "now".
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	if err := s.queryRow(ctx, `SELECT MAX(seq) FROM events`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("reading the newest event: %w", err)
	}
	return seq.Int64, nil
}

// AppendRuntimeEvent records an agent_runtime.* event for rt.
func (s *Store) AppendRuntimeEvent(ctx context.Context, eventType string, rt agentrt.Type) error {
	switch eventType {
	case tasks.EventRuntimeActive, tasks.EventRuntimeLoginComplete, tasks.EventRuntimeDeactivated:
	default:
		return fmt.Errorf("%w: %q is not a runtime event type", tasks.ErrInvalid, eventType)
	}
	if _, ok := agentrt.ParseType(string(rt)); !ok {
		return fmt.Errorf("%w: unknown agent runtime %q", tasks.ErrInvalid, rt)
	}
	p, err := marshalPayload(runtimePayload{AgentRuntime: string(rt)})
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *wtx) error {
		return s.appendEvent(tx, eventType, "", p)
	})
}
