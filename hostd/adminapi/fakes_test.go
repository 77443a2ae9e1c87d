package adminapi

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// fakeClock is the injected clock of API tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeTasks is an in-memory tasks.Service with the contract's rules
// (caps, thread ownership, execution order), so API tests can check the
// status codes those rules produce.
type fakeTasks struct {
	clock *fakeClock

	mu       sync.Mutex
	tasks    map[string]*tasks.Task
	order    []string // creation order
	owner    map[string]agentrt.Type
	steers   map[string]int
	events   []tasks.Event
	subs     map[int]chan struct{}
	nextSub  int
	nextID   int
	calls    map[string]int
	blockers map[string]chan struct{} // method → closed to release
	failWith error
}

func newFakeTasks(clock *fakeClock) *fakeTasks {
	return &fakeTasks{
		clock: clock, tasks: map[string]*tasks.Task{}, owner: map[string]agentrt.Type{},
		steers: map[string]int{}, subs: map[int]chan struct{}{}, calls: map[string]int{},
		blockers: map[string]chan struct{}{},
	}
}

func (f *fakeTasks) called(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

// block makes the next calls of method wait until the returned func runs.
func (f *fakeTasks) block(method string) (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	f.blockers[method] = ch
	f.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

func (f *fakeTasks) enter(method string) error {
	f.mu.Lock()
	f.calls[method]++
	ch := f.blockers[method]
	err := f.failWith
	f.mu.Unlock()
	if ch != nil {
		<-ch
	}
	return err
}

func (f *fakeTasks) appendEvent(typ, taskID string, payload any) {
	b, _ := json.Marshal(payload)
	seq := int64(len(f.events) + 1)
	f.events = append(f.events, tasks.Event{
		ID: fmt.Sprintf("evt_%d", seq), Seq: seq, Timestamp: f.clock.Now(), Type: typ, TaskID: taskID, Payload: b,
	})
	for _, ch := range f.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// AddEvent lets a test append an event as if the orchestrator did.
func (f *fakeTasks) AddEvent(typ, taskID string, payload any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appendEvent(typ, taskID, payload)
}

func (f *fakeTasks) queued() int {
	n := 0
	for _, t := range f.tasks {
		if t.Status == tasks.StatusQueued {
			n++
		}
	}
	return n
}

func (f *fakeTasks) Create(ctx context.Context, rt agentrt.Type, threadID, input string) (tasks.Task, error) {
	if err := f.enter("Create"); err != nil {
		return tasks.Task{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if o, ok := f.owner[threadID]; ok && o != rt {
		return tasks.Task{}, fmt.Errorf("%w: thread %s belongs to %s", tasks.ErrConflict, threadID, o)
	}
	if f.queued() >= tasks.MaxQueuedTasks {
		return tasks.Task{}, fmt.Errorf("%w: 1,000 tasks are already queued", tasks.ErrConflict)
	}
	f.owner[threadID] = rt
	f.nextID++
	now := f.clock.Now()
	t := &tasks.Task{ID: fmt.Sprintf("task_%04d", f.nextID), Status: tasks.StatusQueued, Runtime: rt,
		ThreadID: threadID, Input: input, CreatedAt: now, UpdatedAt: now}
	f.tasks[t.ID] = t
	f.order = append(f.order, t.ID)
	f.appendEvent(tasks.EventTaskMessage, t.ID, map[string]string{"message": input, "source": "user"})
	return *t, nil
}

// Start moves a queued task to running, as a worker would.
func (f *fakeTasks) Start(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tasks[id]
	t.Status = tasks.StatusRunning
	t.UpdatedAt = f.clock.Now()
	f.appendEvent(tasks.EventTaskStarted, id, struct{}{})
}

// Finish ends a running task.
func (f *fakeTasks) Finish(id string, st tasks.Status, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tasks[id]
	t.Status = st
	t.UpdatedAt = f.clock.Now()
	switch st {
	case tasks.StatusCompleted:
		t.Output = text
		f.appendEvent(tasks.EventTaskCompleted, id, struct{}{})
	case tasks.StatusFailed:
		t.Error = text
		f.appendEvent(tasks.EventTaskFailed, id, map[string]string{"error_message": text})
	}
}

func (f *fakeTasks) Get(ctx context.Context, id string) (tasks.Task, error) {
	if err := f.enter("Get"); err != nil {
		return tasks.Task{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tasks[id]
	if !ok {
		return tasks.Task{}, fmt.Errorf("%w: task %s", tasks.ErrNotFound, id)
	}
	return *t, nil
}

func (f *fakeTasks) ListActive(ctx context.Context, lastSeen string, limit int) ([]tasks.ListedTask, error) {
	if err := f.enter("ListActive"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []tasks.ListedTask
	for _, id := range f.order {
		if t := f.tasks[id]; t.Status == tasks.StatusRunning {
			all = append(all, tasks.ListedTask{Task: *t})
		}
	}
	pos := 0
	for _, id := range f.order {
		if t := f.tasks[id]; t.Status == tasks.StatusQueued {
			pos++
			all = append(all, tasks.ListedTask{Task: *t, QueuePosition: pos})
		}
	}
	start := 0
	if lastSeen != "" {
		start = -1
		for i, t := range all {
			if t.ID == lastSeen {
				start = i + 1
			}
		}
		if start < 0 {
			return nil, fmt.Errorf("%w: task %s is not active", tasks.ErrNotFound, lastSeen)
		}
	}
	all = all[start:]
	if len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

func (f *fakeTasks) Edit(ctx context.Context, id, input string) (tasks.Task, error) {
	if err := f.enter("Edit"); err != nil {
		return tasks.Task{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tasks[id]
	if !ok {
		return tasks.Task{}, fmt.Errorf("%w: task %s", tasks.ErrNotFound, id)
	}
	if t.Status != tasks.StatusQueued {
		return tasks.Task{}, fmt.Errorf("%w: task is %s; only queued tasks can be edited", tasks.ErrConflict, t.Status)
	}
	t.Input = input
	t.UpdatedAt = f.clock.Now()
	return *t, nil
}

func (f *fakeTasks) Steer(ctx context.Context, id, text string) error {
	if err := f.enter("Steer"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tasks[id]
	if !ok {
		return fmt.Errorf("%w: task %s", tasks.ErrNotFound, id)
	}
	if t.Status != tasks.StatusRunning {
		return fmt.Errorf("%w: task is %s; only running tasks take steers", tasks.ErrConflict, t.Status)
	}
	if f.steers[id] >= tasks.MaxPendingSteers {
		return fmt.Errorf("%w: 20 steers are already pending", tasks.ErrConflict)
	}
	f.steers[id]++
	return nil
}

func (f *fakeTasks) Cancel(ctx context.Context, id string) error {
	return f.end("Cancel", id, tasks.StatusQueued)
}

func (f *fakeTasks) Kill(ctx context.Context, id string) error {
	return f.end("Kill", id, tasks.StatusRunning)
}

func (f *fakeTasks) end(method, id string, from tasks.Status) error {
	if err := f.enter(method); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tasks[id]
	if !ok {
		return fmt.Errorf("%w: task %s", tasks.ErrNotFound, id)
	}
	if t.Status != from {
		return fmt.Errorf("%w: task is %s", tasks.ErrConflict, t.Status)
	}
	t.Status = tasks.StatusCancelled
	t.UpdatedAt = f.clock.Now()
	f.appendEvent(tasks.EventTaskCancelled, id, struct{}{})
	return nil
}

func (f *fakeTasks) Threads(ctx context.Context) ([]tasks.Thread, error) {
	if err := f.enter("Threads"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	byID := map[string]*tasks.Thread{}
	for _, id := range f.order {
		t := f.tasks[id]
		th := byID[t.ThreadID]
		if th == nil {
			th = &tasks.Thread{ID: t.ThreadID, Runtime: t.Runtime}
			byID[t.ThreadID] = th
		}
		th.TaskCount++
		if t.UpdatedAt.After(th.LastUsedAt) {
			th.LastUsedAt = t.UpdatedAt
		}
		if !t.Status.Finished() {
			th.ActiveTasks = append(th.ActiveTasks, tasks.TaskRef{TaskID: t.ID, Status: t.Status})
		}
	}
	out := make([]tasks.Thread, 0, len(byID))
	for _, th := range byID {
		out = append(out, *th)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastUsedAt.After(out[j].LastUsedAt) })
	return out, nil
}

func (f *fakeTasks) ThreadTasks(ctx context.Context, threadID string) ([]tasks.Task, error) {
	if err := f.enter("ThreadTasks"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.owner[threadID]; !ok {
		return nil, fmt.Errorf("%w: thread %s", tasks.ErrNotFound, threadID)
	}
	var out []tasks.Task
	for i := len(f.order) - 1; i >= 0; i-- {
		if t := f.tasks[f.order[i]]; t.ThreadID == threadID {
			out = append(out, *t)
		}
	}
	return out, nil
}

func (f *fakeTasks) Events(ctx context.Context, q tasks.EventQuery) ([]tasks.Event, error) {
	if err := f.enter("Events"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if q.TaskID != "" {
		if _, ok := f.tasks[q.TaskID]; !ok {
			return nil, fmt.Errorf("%w: task %s", tasks.ErrNotFound, q.TaskID)
		}
	}
	var out []tasks.Event
	for _, e := range f.events {
		if e.Seq > q.Since && (q.TaskID == "" || e.TaskID == q.TaskID) {
			out = append(out, e)
			if len(out) == q.Limit {
				break
			}
		}
	}
	return out, nil
}

func (f *fakeTasks) Subscribe() (<-chan struct{}, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextSub
	f.nextSub++
	ch := make(chan struct{}, 1)
	f.subs[id] = ch
	return ch, func() {
		f.mu.Lock()
		delete(f.subs, id)
		f.mu.Unlock()
	}
}

func (f *fakeTasks) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

func (f *fakeTasks) ActiveTaskIDs(rt agentrt.Type) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, id := range f.order {
		if t := f.tasks[id]; t.Runtime == rt && t.Status == tasks.StatusRunning {
			out = append(out, id)
		}
	}
	return out
}

func (f *fakeTasks) AppendRuntimeEvent(ctx context.Context, eventType string, rt agentrt.Type) error {
	f.AddEvent(eventType, "", map[string]string{"agent_runtime": string(rt)})
	return nil
}

// fakeSupervisor is a scripted agentrt.Supervisor.
type fakeSupervisor struct {
	mu        sync.Mutex
	states    map[agentrt.Type]agentrt.State
	accounts  []agentrt.AccountInfo
	login     map[agentrt.Type]agentrt.LoginInfo
	codes     []string
	providers []map[string]bool
	calls     int // login method calls
}

func newFakeSupervisor() *fakeSupervisor {
	return &fakeSupervisor{
		states: map[agentrt.Type]agentrt.State{
			agentrt.Codex:      {Type: agentrt.Codex, Status: agentrt.StatusActive},
			agentrt.ClaudeCode: {Type: agentrt.ClaudeCode, Status: agentrt.StatusDeactivated},
		},
		login: map[agentrt.Type]agentrt.LoginInfo{},
	}
}

func (s *fakeSupervisor) set(t agentrt.Type, st agentrt.Status, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states[t] = agentrt.State{Type: t, Status: st, ErrorMessage: msg}
}

func (s *fakeSupervisor) States() []agentrt.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []agentrt.State
	for _, t := range agentrt.Types {
		out = append(out, s.states[t])
	}
	return out
}

func (s *fakeSupervisor) State(t agentrt.Type) agentrt.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[t]
}

func (s *fakeSupervisor) Accounts(ctx context.Context) []agentrt.AccountInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accounts
}

func (s *fakeSupervisor) StartLogin(ctx context.Context, t agentrt.Type) (agentrt.LoginInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.states[t].Status != agentrt.StatusAwaitingLogin {
		return agentrt.LoginInfo{}, agentrt.ErrLoginState
	}
	info := agentrt.LoginInfo{Status: "awaiting_login", DeviceCode: "ABCD-EFGH",
		LoginURL: "https://auth.openai.com/codex/device", ExpiresAt: time.Date(2026, 3, 4, 5, 21, 7, 0, time.UTC)}
	if t == agentrt.ClaudeCode {
		info = agentrt.LoginInfo{Status: "awaiting_code", LoginURL: "https://claude.ai/oauth/authorize?x=1",
			ExpiresAt: time.Date(2026, 3, 4, 5, 21, 7, 0, time.UTC)}
	}
	s.login[t] = info
	return info, nil
}

func (s *fakeSupervisor) CurrentLogin(ctx context.Context, t agentrt.Type) (agentrt.LoginInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	info, ok := s.login[t]
	if !ok || s.states[t].Status != agentrt.StatusAwaitingLogin {
		return agentrt.LoginInfo{}, agentrt.ErrLoginState
	}
	return info, nil
}

func (s *fakeSupervisor) CompleteLogin(ctx context.Context, t agentrt.Type, code string) (agentrt.LoginInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if t != agentrt.ClaudeCode {
		return agentrt.LoginInfo{}, agentrt.ErrNotSupported
	}
	if _, ok := s.login[t]; !ok {
		return agentrt.LoginInfo{}, agentrt.ErrLoginState
	}
	s.codes = append(s.codes, code)
	return agentrt.LoginInfo{Status: "active"}, nil
}

func (s *fakeSupervisor) ProvidersChanged(ctx context.Context, enabled map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.providers = append(s.providers, enabled)
}

// fakeNetwork is an in-memory netstate.Client over the real policy parser.
type fakeNetwork struct {
	clock *fakeClock

	mu        sync.Mutex
	pol       *policy.Policy
	polErr    string
	updated   time.Time
	status    netstate.Status
	statusErr error
	events    []netstate.Event
	pins      policy.Pins
	busy      bool
	replaces  int
	release   chan struct{} // when set, ReplacePolicy waits on it
	entered   chan struct{}
}

func newFakeNetwork(clock *fakeClock) *fakeNetwork {
	return &fakeNetwork{clock: clock, pol: policy.Empty(), updated: clock.Now(),
		status: netstate.Status{PolicyValid: true, ProxyListening: true}}
}

func (n *fakeNetwork) ReadPolicy(ctx context.Context) (netstate.PolicyDoc, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return netstate.PolicyDoc{Policy: n.pol, UpdatedAt: n.updated, Error: n.polErr}, nil
}

func (n *fakeNetwork) ReplacePolicy(ctx context.Context, raw []byte) (netstate.PolicyDoc, error) {
	n.mu.Lock()
	release, entered, busy := n.release, n.entered, n.busy
	n.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if release != nil {
		<-release
	}
	if busy {
		return netstate.PolicyDoc{}, netstate.ErrBusy
	}
	p, err := policy.Parse(raw)
	if err != nil {
		return netstate.PolicyDoc{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pol, n.polErr, n.updated = p, "", n.clock.Now()
	n.replaces++
	return netstate.PolicyDoc{Policy: p, UpdatedAt: n.updated}, nil
}

func (n *fakeNetwork) Status(ctx context.Context) (netstate.Status, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.status, n.statusErr
}

func (n *fakeNetwork) Events(ctx context.Context, since int64, limit int) ([]netstate.Event, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []netstate.Event
	for _, e := range n.events {
		if e.Seq > since {
			out = append(out, e)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

func (n *fakeNetwork) addEvent(e netstate.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e.Seq = int64(len(n.events) + 1)
	e.Timestamp = n.clock.Now()
	n.events = append(n.events, e)
}

func (n *fakeNetwork) Pins(ctx context.Context) (policy.Pins, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pins, nil
}

func (n *fakeNetwork) SetAccountPin(ctx context.Context, provider, value string) error {
	return nil
}

// memIdempotency is an in-memory IdempotencyStore with the store's rules.
type memIdempotency struct {
	mu   sync.Mutex
	recs map[string]IdempotencyRecord
}

func newMemIdempotency() *memIdempotency {
	return &memIdempotency{recs: map[string]IdempotencyRecord{}}
}

func (m *memIdempotency) BeginIdempotent(ctx context.Context, key, method, path string, now time.Time) (IdempotencyRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.recs[key]; ok && r.CreatedAt.After(now.Add(-IdempotencyWindow)) {
		return r, true, nil
	}
	r := IdempotencyRecord{Key: key, Method: method, Path: path, CreatedAt: now}
	m.recs[key] = r
	return r, false, nil
}

func (m *memIdempotency) FinishIdempotent(ctx context.Context, key string, status int, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[key]
	if !ok {
		return fmt.Errorf("no reservation for %q", key)
	}
	r.Done, r.Status, r.Body = true, status, append([]byte(nil), body...)
	m.recs[key] = r
	return nil
}

func (m *memIdempotency) AbortIdempotent(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.recs[key]; ok && !r.Done {
		delete(m.recs, key)
	}
	return nil
}

func (m *memIdempotency) get(key string) (IdempotencyRecord, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[key]
	return r, ok
}

// memSessions is an in-memory SessionStore.
type memSessions struct {
	mu       sync.Mutex
	sessions map[string]time.Time
}

func newMemSessions() *memSessions { return &memSessions{sessions: map[string]time.Time{}} }

func (m *memSessions) CreateSession(ctx context.Context, hash string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[hash] = expires
	return nil
}

func (m *memSessions) SessionValid(ctx context.Context, hash string, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	exp, ok := m.sessions[hash]
	return ok && now.Before(exp), nil
}

func (m *memSessions) DeleteSession(ctx context.Context, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, hash)
	return nil
}

func (m *memSessions) hashes() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for h := range m.sessions {
		out = append(out, h)
	}
	return out
}

// fakeRebooter records reboots.
type fakeRebooter struct {
	mu      sync.Mutex
	refuse  error
	reboots int
	done    chan struct{}
}

func (f *fakeRebooter) Available() error { return f.refuse }

func (f *fakeRebooter) Reboot(ctx context.Context) error {
	f.mu.Lock()
	f.reboots++
	f.mu.Unlock()
	if f.done != nil {
		f.done <- struct{}{}
	}
	return nil
}

func (f *fakeRebooter) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reboots
}
