package orchestrator

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/fakert"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/store"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// testTimeout bounds every wait in these tests; nothing here should take
// more than a fraction of it.
const testTimeout = 20 * time.Second

// fakeStatus is a runtime supervisor stand-in: it holds each runtime's
// status and, like the real one, tells the listener after a change.
type fakeStatus struct {
	mu       sync.Mutex
	st       map[agentrt.Type]agentrt.Status
	listener agentrt.StatusListener
}

func (f *fakeStatus) State(t agentrt.Type) agentrt.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return agentrt.State{Type: t, Status: f.st[t]}
}

func (f *fakeStatus) Set(t agentrt.Type, s agentrt.Status) {
	f.mu.Lock()
	from := f.st[t]
	f.st[t] = s
	l := f.listener
	f.mu.Unlock()
	if l != nil && from != s {
		l.RuntimeStatusChanged(t, from, s)
	}
}

// fakeClock drives tickers by hand.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers map[time.Duration][]*fakeTicker
}

type fakeTicker struct {
	ch      chan time.Time
	stopped chan struct{}
	once    sync.Once
}

func (t *fakeTicker) C() <-chan time.Time { return t.ch }
func (t *fakeTicker) Stop()               { t.once.Do(func() { close(t.stopped) }) }

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), tickers: map[time.Duration][]*fakeTicker{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Microsecond)
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) NewTicker(d time.Duration) Ticker {
	t := &fakeTicker{ch: make(chan time.Time), stopped: make(chan struct{})}
	c.mu.Lock()
	c.tickers[d] = append(c.tickers[d], t)
	c.mu.Unlock()
	return t
}

// Tick delivers one tick to every live ticker of interval d, waiting until
// each has taken it.
func (c *fakeClock) Tick(t *testing.T, d time.Duration) {
	t.Helper()
	c.mu.Lock()
	ts := append([]*fakeTicker(nil), c.tickers[d]...)
	now := c.now
	c.mu.Unlock()
	if len(ts) == 0 {
		t.Fatalf("no ticker of interval %v", d)
	}
	for _, tk := range ts {
		select {
		case tk.ch <- now:
		case <-tk.stopped:
		case <-time.After(testTimeout):
			t.Fatalf("ticker of interval %v never took its tick", d)
		}
	}
}

type harness struct {
	t       *testing.T
	st      *store.Store
	orch    *Orchestrator
	status  *fakeStatus
	clock   *fakeClock
	codex   *fakert.Adapter
	claude  *fakert.Adapter
	cancel  context.CancelFunc
	runDone chan error
	path    string

	mu          sync.Mutex
	maintenance chan store.PruneStats
}

type harnessOpts struct {
	limits   store.Limits
	inactive bool // start with both runtimes awaiting_login
	path     string
	noRun    bool
}

func newHarness(t *testing.T, ho harnessOpts) *harness {
	t.Helper()
	clock := newFakeClock()
	path := ho.path
	if path == "" {
		path = filepath.Join(t.TempDir(), "admin.db")
	}
	st, err := store.Open(context.Background(), path, store.Options{Now: clock.Now, Limits: ho.limits})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	h := &harness{
		t: t, st: st, clock: clock, path: path,
		codex:       fakert.New(agentrt.Codex),
		claude:      fakert.New(agentrt.ClaudeCode),
		maintenance: make(chan store.PruneStats, 16),
	}
	status := agentrt.StatusActive
	if ho.inactive {
		status = agentrt.StatusAwaitingLogin
	}
	h.status = &fakeStatus{st: map[agentrt.Type]agentrt.Status{agentrt.Codex: status, agentrt.ClaudeCode: status}}
	h.orch, err = New(Config{
		Store:    st,
		Adapters: []agentrt.Adapter{h.codex, h.claude},
		Status:   h.status,
		Clock:    clock,
		Logger:   logging.Nop(),
		AfterMaintenance: func(ps store.PruneStats, err error) {
			if err == nil {
				h.maintenance <- ps
			}
		},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.status.listener = h.orch
	t.Cleanup(h.stop)
	if !ho.noRun {
		h.run()
	}
	return h
}

func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.runDone = make(chan error, 1)
	go func() { h.runDone <- h.orch.Run(ctx) }()
	// The first maintenance run happens at start; take it so later waits
	// see only their own.
	select {
	case <-h.maintenance:
	case <-time.After(testTimeout):
		h.t.Fatal("no maintenance run at start")
	}
}

// stop shuts the orchestrator down and closes the store; idempotent.
func (h *harness) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cancel != nil {
		h.cancel()
		select {
		case <-h.runDone:
		case <-time.After(testTimeout):
			h.t.Error("Run did not return after cancel")
		}
		h.cancel = nil
	}
	if h.st != nil {
		_ = h.st.Close()
		h.st = nil
	}
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	h.t.Cleanup(cancel)
	return ctx
}

func (h *harness) create(rt agentrt.Type, thread, input string) tasks.Task {
	h.t.Helper()
	task, err := h.orch.Create(h.ctx(), rt, thread, input)
	if err != nil {
		h.t.Fatalf("Create(%s, %s): %v", rt, thread, err)
	}
	return task
}

// waitFor re-checks cond after every committed event, and every few
// milliseconds for in-memory state that no event announces, until it
// holds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	ch, unsub := h.orch.Subscribe()
	defer unsub()
	deadline := time.After(testTimeout)
	recheck := time.NewTicker(2 * time.Millisecond)
	defer recheck.Stop()
	for !cond() {
		select {
		case <-ch:
		case <-recheck.C:
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (h *harness) get(id string) tasks.Task {
	h.t.Helper()
	task, err := h.orch.Get(h.ctx(), id)
	if err != nil {
		h.t.Fatalf("Get(%s): %v", id, err)
	}
	return task
}

func (h *harness) waitStatus(id string, want tasks.Status) tasks.Task {
	h.t.Helper()
	var got tasks.Task
	h.waitFor("task "+id+" to be "+string(want), func() bool {
		got = h.get(id)
		return got.Status == want
	})
	return got
}

func (h *harness) events(taskID string) []tasks.Event {
	h.t.Helper()
	var out []tasks.Event
	var since int64
	for {
		page, err := h.orch.Events(h.ctx(), tasks.EventQuery{Since: since, Limit: 100, TaskID: taskID})
		if err != nil {
			h.t.Fatalf("Events: %v", err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		since = page[len(page)-1].Seq
	}
}

func types(evs []tasks.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

type msg struct {
	Message string `json:"message"`
	Source  string `json:"source"`
}

func messages(t *testing.T, evs []tasks.Event) []msg {
	t.Helper()
	var out []msg
	for _, e := range evs {
		if e.Type != tasks.EventTaskMessage {
			continue
		}
		var m msg
		if err := json.Unmarshal(e.Payload, &m); err != nil {
			t.Fatalf("payload %s: %v", e.Payload, err)
		}
		out = append(out, m)
	}
	return out
}

// gate is a channel a test closes to let a fake turn go on.
func gate() chan struct{} { return make(chan struct{}) }
