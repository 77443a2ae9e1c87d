package crashtest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// The client side's record of what hostd acknowledged and what it showed.
// Clients and the event reader write into one world; the checks after
// each restart read it.

// taskView is the API's task object.
type taskView struct {
	TaskID        string  `json:"task_id"`
	Status        string  `json:"status"`
	AgentRuntime  string  `json:"agent_runtime"`
	ThreadID      string  `json:"thread_id"`
	InputMessage  string  `json:"input_message"`
	OutputMessage *string `json:"output_message"`
	ErrorMessage  *string `json:"error_message"`
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     string  `json:"updated_at"`
}

func (v taskView) finished() bool {
	return v.Status == "completed" || v.Status == "failed" || v.Status == "cancelled"
}

func (v taskView) outcome() string {
	s := v.Status
	if v.OutputMessage != nil {
		s += " output=" + *v.OutputMessage
	}
	if v.ErrorMessage != nil {
		s += " error=" + *v.ErrorMessage
	}
	return s
}

// eventView is the API's event object; Raw keeps its exact bytes.
type eventView struct {
	EventID   string          `json:"event_id"`
	Seq       int64           `json:"seq"`
	EventType string          `json:"event_type"`
	TaskID    *string         `json:"task_id"`
	Payload   json.RawMessage `json:"payload"`
	Raw       json.RawMessage `json:"-"`
}

type messagePayload struct {
	Message string `json:"message"`
	Source  string `json:"source"`
}

// ack is one mutation that got a 2xx answer.
type ack struct {
	cycle  int
	kind   string // create, edit, steer, kill, cancel, policy
	method string
	path   string
	key    string
	body   []byte
	status int
	resp   []byte
	taskID string
	text   string // edit input or steer text
}

// taskRec is everything known about one created task.
type taskRec struct {
	id, thread, label string
	hang              bool
	created           taskView // the create answer
	// input is the last acknowledged input; maybeInputs are edits tried
	// after it whose answer was lost (they may or may not have landed).
	input       string
	maybeInputs []string
	// killTried/cancelTried: a kill or cancel was acknowledged or lost
	// its answer (it may have landed); killAcked/cancelAcked: it was
	// acknowledged.
	killTried, killAcked     bool
	cancelTried, cancelAcked bool
	// runningIn is the last cycle in which the task was seen running;
	// last is the status seen last.
	runningIn int
	last      string
	// final is the first finished state seen.
	final *taskView
}

// lostCreate is a create whose answer never came (hostd was killed while
// it ran); the client retries it with the same key after the restart.
type lostCreate struct {
	key, label, thread string
	body               []byte
}

// lostMutation is an edit, kill or cancel whose answer never came; the
// client retries it with the same key after the restart.
type lostMutation struct {
	kind, method, path, key string
	body                    []byte
	taskID, text            string // text: the edit's input
}

type world struct {
	mu            sync.Mutex
	acks          []ack
	lost          []lostCreate
	lostMutations []lostMutation
	tasks         map[string]*taskRec
	order         []string // task ids in creation order
	events        map[int64]eventView
	maxSeq        int64
	// violations found while the clients ran (a finished task changing).
	violations []string
	// checks counts how often the stronger after-restart checks ran, so
	// the log shows the test exercised them.
	checks map[string]int
}

func newWorld() *world {
	return &world{tasks: map[string]*taskRec{}, events: map[int64]eventView{}, checks: map[string]int{}}
}

func (w *world) violation(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.violations = append(w.violations, fmt.Sprintf(format, args...))
}

func (w *world) addAck(a ack) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.acks = append(w.acks, a)
	return len(w.acks)
}

func (w *world) addTask(r *taskRec) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tasks[r.id] = r
	w.order = append(w.order, r.id)
}

func (w *world) task(id string) *taskRec {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tasks[id]
}

// observe records a task state the API showed during cycle. A finished
// task must never change afterwards.
func (w *world) observe(v taskView, cycle int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.tasks[v.TaskID]
	if r == nil {
		return // another client's task whose create answer is not in yet
	}
	r.last = v.Status
	if v.Status == "running" {
		r.runningIn = cycle
	}
	if !v.finished() {
		return
	}
	if r.final == nil {
		cp := v
		r.final = &cp
		return
	}
	if r.final.outcome() != v.outcome() {
		w.violations = append(w.violations, fmt.Sprintf("task %s was %q, later %q", v.TaskID, r.final.outcome(), v.outcome()))
	}
}

// recordEvents adds a page of events the API showed.
func (w *world) recordEvents(evs []eventView) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range evs {
		if old, ok := w.events[e.Seq]; ok && string(old.Raw) != string(e.Raw) {
			w.violations = append(w.violations, fmt.Sprintf("event seq %d changed: %s → %s", e.Seq, old.Raw, e.Raw))
			continue
		}
		w.events[e.Seq] = e
		if e.Seq > w.maxSeq {
			w.maxSeq = e.Seq
		}
	}
}

func (w *world) takeViolations() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := w.violations
	w.violations = nil
	return v
}

func (w *world) snapshotTasks() []*taskRec {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*taskRec, 0, len(w.order))
	for _, id := range w.order {
		out = append(out, w.tasks[id])
	}
	return out
}

func (w *world) ackCounts() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := map[string]int{}
	for _, a := range w.acks {
		n[a.kind]++
	}
	return counts(n)
}

func (w *world) checkCounts() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return counts(w.checks)
}

func counts(n map[string]int) string {
	kinds := make([]string, 0, len(n))
	for k := range n {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&b, " %s=%d", k, n[k])
	}
	return strings.TrimSpace(b.String())
}
