package orchestrator

import (
	"context"
	"sync"

	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// job is one claimed task from claim to release. It holds a worker slot
// and its thread for all that time, including while a killed turn's
// process is still exiting.
type job struct {
	task    tasks.Task // guarded by Orchestrator.mu until handed to a worker
	claimNo int64      // guarded by Orchestrator.mu
	claimed bool       // guarded by Orchestrator.mu: the store says running

	// ctx is cancelled by stop: it bounds StartTurn so a kill during a
	// slow boot does not wait for the boot.
	ctx    context.Context
	cancel context.CancelFunc

	stopCh    chan struct{} // closed by stop: end the turn now
	steerWake chan struct{} // coalesced "a steer was recorded"

	mu          sync.Mutex
	stopped     bool
	stopReason  string
	lastMessage string
	session     string
	// steering: a steer is being delivered; agent messages meanwhile wait
	// in held so they are recorded after the steer's user message.
	steering bool
	held     []string
}

func newJob(t tasks.Task) *job {
	ctx, cancel := context.WithCancel(context.Background())
	return &job{
		task: t, ctx: ctx, cancel: cancel,
		stopCh:    make(chan struct{}),
		steerWake: make(chan struct{}, 1),
	}
}

// stop asks the job's turn to end now. The first reason wins; it becomes
// the task's error if the turn then ends as interrupted while the task is
// still running (a killed task is already cancelled and stays so).
func (j *job) stop(reason string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.stopped {
		return
	}
	j.stopped, j.stopReason = true, reason
	close(j.stopCh)
	j.cancel()
}

func (j *job) isStopped() (bool, string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stopped, j.stopReason
}

func (j *job) wakeSteers() {
	select {
	case j.steerWake <- struct{}{}:
	default:
	}
}
