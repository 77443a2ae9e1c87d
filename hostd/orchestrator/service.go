package orchestrator

import (
	"context"
	"fmt"
	"sort"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/store"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// Create validates and durably queues a task (tasks.Service).
func (o *Orchestrator) Create(ctx context.Context, rt agentrt.Type, threadID, input string) (tasks.Task, error) {
	if err := validRuntime(rt); err != nil {
		return tasks.Task{}, err
	}
	if err := validThreadID(threadID); err != nil {
		return tasks.Task{}, err
	}
	if err := validText("input_message", input); err != nil {
		return tasks.Task{}, err
	}
	t, err := o.st.CreateTask(ctx, store.NewTask{Runtime: rt, ThreadID: threadID, Input: input})
	if err != nil {
		return tasks.Task{}, err
	}
	o.wakeDispatcher()
	return t, nil
}

// Get returns one task (tasks.Service).
func (o *Orchestrator) Get(ctx context.Context, id string) (tasks.Task, error) {
	return o.st.GetTask(ctx, id)
}

// ListActive lists running then queued tasks in execution order
// (tasks.Service).
func (o *Orchestrator) ListActive(ctx context.Context, lastSeenTaskID string, limit int) ([]tasks.ListedTask, error) {
	return o.st.ListActive(ctx, lastSeenTaskID, limit)
}

// Edit replaces the input of a queued task (tasks.Service).
func (o *Orchestrator) Edit(ctx context.Context, id, input string) (tasks.Task, error) {
	if err := validText("input_message", input); err != nil {
		return tasks.Task{}, err
	}
	return o.st.EditTask(ctx, id, input)
}

// Steer records a steer for a running task and has its worker deliver it
// (tasks.Service). Accepted means recorded: a steer that arrives after the
// turn's last steering point stays recorded but undelivered.
func (o *Orchestrator) Steer(ctx context.Context, id, text string) error {
	if err := validText("steer_message", text); err != nil {
		return err
	}
	if err := o.st.AddSteer(ctx, id, text); err != nil {
		return err
	}
	if j := o.jobOf(id); j != nil {
		j.wakeSteers()
	}
	return nil
}

// Cancel cancels a queued task (tasks.Service).
func (o *Orchestrator) Cancel(ctx context.Context, id string) error {
	if _, err := o.st.CancelQueued(ctx, id); err != nil {
		return err
	}
	o.log.Info().Str(logging.FieldTaskID, id).Msg("queued task cancelled")
	o.wakeDispatcher()
	return nil
}

// Kill durably marks a running task cancelled, then has its worker
// terminate the turn's process (tasks.Service). It returns once the
// cancellation is committed; the thread stays held until the process has
// exited.
func (o *Orchestrator) Kill(ctx context.Context, id string) error {
	t, err := o.st.KillTask(ctx, id)
	if err != nil {
		return err
	}
	log := o.log.Info().Str(logging.FieldTaskID, id).Str(logging.FieldThreadID, t.ThreadID).Str(logging.FieldRuntime, string(t.Runtime))
	if j := o.jobOf(id); j != nil {
		j.stop("the task was killed")
		log.Msg("task killed")
	} else {
		log.Msg("task killed (no turn was running for it)")
	}
	return nil
}

// Threads lists threads, most recently used first (tasks.Service).
func (o *Orchestrator) Threads(ctx context.Context) ([]tasks.Thread, error) {
	return o.st.Threads(ctx)
}

// ThreadTasks lists a thread's retained tasks (tasks.Service).
func (o *Orchestrator) ThreadTasks(ctx context.Context, threadID string) ([]tasks.Task, error) {
	if err := validThreadID(threadID); err != nil {
		return nil, fmt.Errorf("%w: no such thread %q", tasks.ErrNotFound, threadID)
	}
	return o.st.ThreadTasks(ctx, threadID)
}

// Events returns a page of agent events (tasks.Service).
func (o *Orchestrator) Events(ctx context.Context, q tasks.EventQuery) ([]tasks.Event, error) {
	return o.st.Events(ctx, q)
}

// Subscribe notifies (coalesced) after new events are committed
// (tasks.Service).
func (o *Orchestrator) Subscribe() (<-chan struct{}, func()) { return o.st.Subscribe() }

// ActiveTaskIDs lists the running tasks of one runtime in claim order
// (tasks.Service). A killed task whose process is still exiting is no
// longer listed: it is cancelled.
func (o *Orchestrator) ActiveTaskIDs(rt agentrt.Type) []string {
	o.mu.Lock()
	type entry struct {
		no int64
		id string
	}
	var es []entry
	for id, j := range o.jobs {
		if j.task.Runtime != rt || !j.claimed {
			continue
		}
		if stopped, _ := j.isStopped(); stopped {
			continue
		}
		es = append(es, entry{j.claimNo, id})
	}
	o.mu.Unlock()
	sort.Slice(es, func(a, b int) bool { return es[a].no < es[b].no })
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.id
	}
	return ids
}

// AppendRuntimeEvent records an agent_runtime.* event (tasks.Service).
func (o *Orchestrator) AppendRuntimeEvent(ctx context.Context, eventType string, rt agentrt.Type) error {
	return o.st.AppendRuntimeEvent(ctx, eventType, rt)
}
