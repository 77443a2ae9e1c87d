// Package tasks holds the domain types of the admin plane — tasks, threads
// and agent events — and the Service contract through which the admin API
// reads and changes them. The orchestrator implements Service on top of the
// durable store; the API never writes task state itself.
package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// Status is a task's lifecycle state.
type Status string

// Task statuses. queued → running → completed | failed | cancelled;
// queued → cancelled.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Finished reports whether s is a terminal status.
func (s Status) Finished() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled
}

// Limits fixed by the API contract.
const (
	MaxInputChars       = 50_000 // input_message and steer_message
	MaxQueuedTasks      = 1_000
	MaxPendingSteers    = 20
	MaxFinishedTasks    = 1_000 // retained finished tasks
	MaxEvents           = 10_000
	MaxRememberedThread = 1_000 // thread → runtime session map
	MaxMessageBytes     = 256 << 10
	MaxThreadTasks      = 1_000 // GET /v1/threads/{id}/tasks
)

// Errors the Service returns; the API maps them to status codes. Wrap them
// with a message safe to show the operator:
// fmt.Errorf("%w: thread belongs to codex", tasks.ErrConflict).
var (
	ErrNotFound = errors.New("not found")     // 404
	ErrConflict = errors.New("conflict")      // 409
	ErrInvalid  = errors.New("invalid input") // 400
)

// Task is one agent turn.
type Task struct {
	ID        string
	Status    Status
	Runtime   agentrt.Type
	ThreadID  string
	Input     string
	Output    string // only when completed
	Error     string // only when failed
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ListedTask is a task in the active list with its place in execution
// order: running tasks have 0, queued ones 1, 2, ….
type ListedTask struct {
	Task
	QueuePosition int
}

// TaskRef is a short reference used in thread listings.
type TaskRef struct {
	TaskID string
	Status Status
}

// Thread is a conversation thread as GET /v1/threads lists it.
type Thread struct {
	ID          string
	Runtime     agentrt.Type
	LastUsedAt  time.Time
	ActiveTasks []TaskRef
	TaskCount   int
}

// Agent event types.
const (
	EventTaskStarted          = "task.started"
	EventTaskMessage          = "task.message"
	EventTaskCompleted        = "task.completed"
	EventTaskFailed           = "task.failed"
	EventTaskCancelled        = "task.cancelled"
	EventRuntimeActive        = "agent_runtime.active"
	EventRuntimeLoginComplete = "agent_runtime.login_completed"
	EventRuntimeDeactivated   = "agent_runtime.deactivated"
)

// Event is one agent event.
type Event struct {
	ID        string
	Seq       int64
	Timestamp time.Time
	Type      string
	TaskID    string // empty for runtime events (null in JSON)
	Payload   json.RawMessage
}

// EventQuery selects a page of events: seq > Since, oldest first, at most
// Limit; TaskID narrows to one task (ErrNotFound if it does not exist).
type EventQuery struct {
	Since  int64
	Limit  int
	TaskID string
}

// Service is what the admin API needs of the orchestrator. Every mutating
// method returns only after its change is durably committed.
type Service interface {
	Create(ctx context.Context, rt agentrt.Type, threadID, input string) (Task, error)
	Get(ctx context.Context, id string) (Task, error)
	// ListActive lists running then queued tasks in execution order,
	// starting after lastSeenTaskID (empty = from the start).
	ListActive(ctx context.Context, lastSeenTaskID string, limit int) ([]ListedTask, error)
	// Edit replaces the input of a queued task; ErrConflict otherwise.
	Edit(ctx context.Context, id, input string) (Task, error)
	// Steer records a steer for a running task; ErrConflict if the task is
	// not running or MaxPendingSteers are undelivered.
	Steer(ctx context.Context, id, text string) error
	// Cancel cancels a queued task; ErrConflict otherwise.
	Cancel(ctx context.Context, id string) error
	// Kill marks a running task cancelled and terminates its process;
	// ErrConflict if it is not running.
	Kill(ctx context.Context, id string) error
	// Threads lists threads, newest LastUsedAt first.
	Threads(ctx context.Context) ([]Thread, error)
	// ThreadTasks lists a thread's retained tasks, newest UpdatedAt first
	// (task id breaks ties), at most MaxThreadTasks.
	ThreadTasks(ctx context.Context, threadID string) ([]Task, error)
	// Events returns a page of agent events.
	Events(ctx context.Context, q EventQuery) ([]Event, error)
	// Subscribe returns a channel that receives a value (coalesced, never
	// blocking the writer) after each new event is committed, and a func
	// that ends the subscription.
	Subscribe() (<-chan struct{}, func())
	// ActiveTaskIDs lists the running tasks of one runtime (for health).
	ActiveTaskIDs(rt agentrt.Type) []string
	// AppendRuntimeEvent records an agent_runtime.* event.
	AppendRuntimeEvent(ctx context.Context, eventType string, rt agentrt.Type) error
}
