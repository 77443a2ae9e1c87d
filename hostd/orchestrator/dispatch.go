package orchestrator

import (
	"context"
	"sync"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// dispatchLoop is the only goroutine that claims tasks. It also applies
// runtime status changes, so a change and a claim never interleave: a task
// claimed before a runtime left active is always failed with the others.
func (o *Orchestrator) dispatchLoop(ctx context.Context, helpers *sync.WaitGroup) {
	rescan := o.cfg.Clock.NewTicker(o.cfg.RescanInterval)
	defer rescan.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-rescan.C():
		}
		o.applyStatusChanges(ctx, helpers)
		o.dispatch(ctx)
	}
}

// dispatch claims as many queued tasks as the claim rules allow (see
// picker) and hands them to the workers.
func (o *Orchestrator) dispatch(ctx context.Context) {
	active := make(map[agentrt.Type]bool, len(o.adapters))
	for t := range o.adapters {
		active[t] = o.cfg.Status.State(t).Status == agentrt.StatusActive
	}
	o.mu.Lock()
	busy := make(map[string]bool, len(o.threads))
	for th := range o.threads {
		busy[th] = true
	}
	p := newPicker(o.cfg.Workers-len(o.jobs), o.cfg.PerRuntime, o.held, busy, active)
	o.mu.Unlock()
	if !p.more() {
		return
	}
	var picks []tasks.Task
	err := o.st.QueuedTasks(ctx, func(t tasks.Task) bool {
		if p.offer(t) == pickTaken {
			picks = append(picks, t)
		}
		return p.more()
	})
	if err != nil {
		if ctx.Err() == nil {
			o.log.Error().Err(err).Msg("reading the queue")
		}
		return
	}
	for _, t := range picks {
		o.claim(ctx, t)
	}
}

// claim takes a worker slot and the thread for t, then moves t to running
// in the store. The slot is taken first so that whenever the store says
// running, a job exists to kill.
func (o *Orchestrator) claim(ctx context.Context, t tasks.Task) {
	j := newJob(t)
	o.mu.Lock()
	o.claimNo++
	j.claimNo = o.claimNo
	o.jobs[t.ID] = j
	o.threads[t.ThreadID] = j
	o.held[t.Runtime]++
	o.mu.Unlock()

	claimed, ok, err := o.st.ClaimTask(ctx, t.ID)
	if err != nil || !ok {
		if err != nil && ctx.Err() == nil {
			o.log.Error().Err(err).Str(logging.FieldTaskID, t.ID).Msg("claiming a task")
		}
		o.release(j)
		return
	}
	o.mu.Lock()
	j.task = claimed
	j.claimed = true
	o.mu.Unlock()
	o.log.Info().Str(logging.FieldTaskID, t.ID).Str(logging.FieldThreadID, t.ThreadID).
		Str(logging.FieldRuntime, string(t.Runtime)).Msg("task started")
	o.jobCh <- j // buffered to the number of slots: never blocks
}

// release frees j's worker slot and thread and asks for a claim round.
func (o *Orchestrator) release(j *job) {
	o.mu.Lock()
	if o.jobs[j.task.ID] == j {
		delete(o.jobs, j.task.ID)
		o.held[j.task.Runtime]--
	}
	if o.threads[j.task.ThreadID] == j {
		delete(o.threads, j.task.ThreadID)
	}
	o.mu.Unlock()
	j.stop("")
	o.wakeDispatcher()
}

// stopAll stops every job (shutdown).
func (o *Orchestrator) stopAll(reason string) {
	o.mu.Lock()
	jobs := make([]*job, 0, len(o.jobs))
	for _, j := range o.jobs {
		jobs = append(jobs, j)
	}
	o.mu.Unlock()
	for _, j := range jobs {
		j.stop(reason)
	}
}

// jobOf returns the job running task id, if any.
func (o *Orchestrator) jobOf(id string) *job {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.jobs[id]
}
