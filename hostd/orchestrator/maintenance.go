package orchestrator

import (
	"context"
)

// maintain enforces the store's retention bounds once at start and then
// every MaintenanceInterval, off the request path.
func (o *Orchestrator) maintain(ctx context.Context) {
	tick := o.cfg.Clock.NewTicker(o.cfg.MaintenanceInterval)
	defer tick.Stop()
	for {
		o.maintainOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
	}
}

func (o *Orchestrator) maintainOnce(ctx context.Context) {
	st, err := o.st.Prune(ctx, o.cfg.Clock.Now())
	switch {
	case err != nil && ctx.Err() == nil:
		o.log.Error().Err(err).Msg("maintenance: pruning the admin store")
	case err == nil:
		o.log.Info().
			Int64("pruned_tasks", st.FinishedTasks).
			Int64("pruned_events", st.Events).
			Int64("pruned_idempotency_keys", st.IdempotencyKeys).
			Int64("pruned_sessions", st.Sessions).
			Int64("forgotten_thread_sessions", st.ForgottenSessions).
			Int64("pruned_threads", st.Threads).
			Msg("maintenance done")
	}
	if o.cfg.AfterMaintenance != nil {
		o.cfg.AfterMaintenance(st, err)
	}
}
