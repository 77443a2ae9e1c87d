package store

import (
	"context"
	"fmt"
	"time"
)

// MaxSessions is the most browser sessions kept (newest first); each
// session needs the admin password to create, so this only bounds a
// client that logs in in a loop.
const MaxSessions = 1000

// PruneStats says what one Prune removed.
type PruneStats struct {
	FinishedTasks     int64 // finished tasks beyond the newest FinishedTasks (with their steers)
	Events            int64 // events beyond the newest Events
	IdempotencyKeys   int64 // expired or beyond the newest IdempotencyKeys
	Sessions          int64 // expired or beyond MaxSessions
	ForgottenSessions int64 // threads beyond the Threads most recently used whose runtime session was dropped
	Threads           int64 // threads with no retained task and no session
}

// Prune enforces every retention bound at now. It runs as several short
// transactions so it never holds the writer for long; the maintenance
// loop calls it, never a request.
func (s *Store) Prune(ctx context.Context, now time.Time) (PruneStats, error) {
	var st PruneStats
	steps := []struct {
		what string
		n    *int64
		run  func(tx *wtx) (int64, error)
	}{
		{"finished tasks", &st.FinishedTasks, func(tx *wtx) (int64, error) {
			return tx.execN(`DELETE FROM tasks WHERE ord IN (
				SELECT ord FROM tasks WHERE status IN ('completed', 'failed', 'cancelled')
				ORDER BY updated_at DESC, id DESC LIMIT -1 OFFSET ?)`, s.lim.FinishedTasks)
		}},
		{"events", &st.Events, func(tx *wtx) (int64, error) {
			return tx.execN(`DELETE FROM events WHERE seq <= (
				SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?)`, s.lim.Events)
		}},
		{"idempotency keys", &st.IdempotencyKeys, func(tx *wtx) (int64, error) {
			old, err := tx.execN(`DELETE FROM idempotency WHERE created_at <= ?`, nanos(now.Add(-s.lim.IdempotencyTTL)))
			if err != nil {
				return 0, err
			}
			extra, err := tx.execN(`DELETE FROM idempotency WHERE key IN (
				SELECT key FROM idempotency ORDER BY created_at DESC, key DESC LIMIT -1 OFFSET ?)`, s.lim.IdempotencyKeys)
			return old + extra, err
		}},
		{"sessions", &st.Sessions, func(tx *wtx) (int64, error) {
			expired, err := tx.execN(`DELETE FROM sessions WHERE expires_at <= ?`, nanos(now))
			if err != nil {
				return 0, err
			}
			extra, err := tx.execN(`DELETE FROM sessions WHERE token_hash IN (
				SELECT token_hash FROM sessions ORDER BY created_at DESC, token_hash DESC LIMIT -1 OFFSET ?)`, MaxSessions)
			return expired + extra, err
		}},
		{"thread sessions", &st.ForgottenSessions, func(tx *wtx) (int64, error) {
			return tx.execN(`UPDATE threads SET session_id = '' WHERE session_id != '' AND id IN (
				SELECT id FROM threads ORDER BY last_used_at DESC, id DESC LIMIT -1 OFFSET ?)`, s.lim.Threads)
		}},
		{"threads", &st.Threads, func(tx *wtx) (int64, error) {
			return tx.execN(`DELETE FROM threads WHERE session_id = ''
				AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.thread_id = threads.id)`)
		}},
	}
	for _, step := range steps {
		err := s.write(ctx, func(tx *wtx) error {
			n, err := step.run(tx)
			*step.n = n
			return err
		})
		if err != nil {
			return st, fmt.Errorf("pruning %s: %w", step.what, err)
		}
	}
	return st, nil
}
