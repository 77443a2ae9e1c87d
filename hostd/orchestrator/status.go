package orchestrator

import (
	"context"
	"fmt"
	"sync"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

// statusChange is the coalesced status history of one runtime since the
// dispatcher last looked.
type statusChange struct {
	leftActive bool // some change in the history left active
	from, to   agentrt.Status
}

// RuntimeStatusChanged implements agentrt.StatusListener. It only records
// the change and wakes the dispatcher, so it never blocks the supervisor.
func (o *Orchestrator) RuntimeStatusChanged(t agentrt.Type, from, to agentrt.Status) {
	o.statusMu.Lock()
	c := o.pending[t]
	if from == agentrt.StatusActive && to != agentrt.StatusActive {
		c.leftActive = true
		c.from = from
	}
	c.to = to
	o.pending[t] = c
	o.statusMu.Unlock()
	o.wakeDispatcher()
}

// applyStatusChanges handles recorded changes on the dispatcher goroutine:
// a runtime that left active has its running tasks failed (durably, with
// the reason), its turns killed, and its processes closed. Its queued
// tasks stay queued.
func (o *Orchestrator) applyStatusChanges(ctx context.Context, helpers *sync.WaitGroup) {
	o.statusMu.Lock()
	changes := o.pending
	o.pending = make(map[agentrt.Type]statusChange)
	o.statusMu.Unlock()
	for t, c := range changes {
		if !c.leftActive {
			continue
		}
		reason := fmt.Sprintf("the %s runtime stopped being active (now %s)", t, c.to)
		wctx, cancel := o.bg()
		failed, err := o.st.FailRunning(wctx, t, reason)
		cancel()
		if err != nil {
			o.log.Error().Err(err).Str(logging.FieldRuntime, string(t)).Msg("failing running tasks of a runtime that left active")
		}
		o.log.Warn().Str(logging.FieldRuntime, string(t)).Str(logging.FieldStatus, string(c.to)).
			Int("failed_tasks", len(failed)).Msg("runtime left active")
		o.mu.Lock()
		var stop []*job
		for _, j := range o.jobs {
			if j.task.Runtime == t {
				stop = append(stop, j)
			}
		}
		o.mu.Unlock()
		for _, j := range stop {
			j.stop(reason)
		}
		if a := o.adapters[t]; a != nil && ctx.Err() == nil {
			helpers.Go(func() {
				cctx, cancel := context.WithTimeout(context.Background(), o.cfg.KillTimeout)
				defer cancel()
				if err := a.CloseAll(cctx); err != nil {
					o.log.Error().Err(err).Str(logging.FieldRuntime, string(t)).Msg("closing the processes of a runtime that left active")
				}
			})
		}
	}
}
