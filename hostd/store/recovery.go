package store

import (
	"context"
	"fmt"
)

// recover repairs what an unclean stop left behind: running tasks become
// failed (a turn cannot survive a restart) with their task.failed events,
// and Idempotency-Key reservations whose request never produced a
// response are dropped so a retry runs again. Queued tasks stay queued.
func (s *Store) recover(ctx context.Context) error {
	return s.write(ctx, func(tx *wtx) error {
		failed, err := s.failRunning(tx, `SELECT id FROM tasks WHERE status = 'running' ORDER BY ord`, RestartError)
		if err != nil {
			return fmt.Errorf("failing tasks that were running: %w", err)
		}
		dropped, err := tx.execN(`DELETE FROM idempotency WHERE done = 0`)
		if err != nil {
			return fmt.Errorf("dropping unfinished idempotency reservations: %w", err)
		}
		s.recovery.FailedTasks = failed
		s.recovery.DroppedReservations = int(dropped)
		return nil
	})
}
