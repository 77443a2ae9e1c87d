// Package fakert is a scripted fake agent runtime for tests: an
// agentrt.Adapter whose turns follow a script (say messages, wait on a
// channel the test controls, take steers, complete, fail, or hang until
// killed) and which records every call so tests can assert on it.
//
// It is test support only: it must never be offered as a product runtime,
// starts no process and does no I/O. Pacing is by channels the test
// closes, never by sleeping.
package fakert

import (
	"context"
	"fmt"
	"sync"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// Adapter is a fake agentrt.Adapter.
type Adapter struct {
	typ agentrt.Type

	mu         sync.Mutex
	queue      []Script
	byThread   map[string][]Script
	scriptFunc func(agentrt.TurnRequest) Script
	def        Script
	probe      agentrt.ProbeResult
	probeErr   error
	probeCalls int
	closeCalls int
	turns      []*Turn
	starts     []agentrt.TurnRequest // every StartTurn call, at entry
	sessions   int
	changed    chan struct{} // closed and replaced on every recorded change
}

var _ agentrt.Adapter = (*Adapter)(nil)

// New returns a fake adapter of runtime t whose default script says
// "fake reply: <input>" and completes; its probe reports logged in.
func New(t agentrt.Type) *Adapter {
	return &Adapter{
		typ:      t,
		byThread: make(map[string][]Script),
		probe:    agentrt.ProbeResult{LoggedIn: true, Detail: "fake runtime"},
		changed:  make(chan struct{}),
	}
}

// Push queues scripts for the next turns, in order, for any thread.
func (a *Adapter) Push(s ...Script) {
	a.mu.Lock()
	a.queue = append(a.queue, s...)
	a.mu.Unlock()
}

// PushFor queues scripts for the next turns on one thread. They take
// precedence over Push'ed scripts.
func (a *Adapter) PushFor(threadID string, s ...Script) {
	a.mu.Lock()
	a.byThread[threadID] = append(a.byThread[threadID], s...)
	a.mu.Unlock()
}

// SetScriptFunc chooses the script of every turn that has no queued
// script. nil restores the default.
func (a *Adapter) SetScriptFunc(f func(agentrt.TurnRequest) Script) {
	a.mu.Lock()
	a.scriptFunc = f
	a.mu.Unlock()
}

// SetDefault sets the script used when nothing else is queued.
func (a *Adapter) SetDefault(s Script) {
	a.mu.Lock()
	a.def = s
	a.scriptFunc = nil
	a.mu.Unlock()
}

// SetProbe sets what Probe reports.
func (a *Adapter) SetProbe(res agentrt.ProbeResult, err error) {
	a.mu.Lock()
	a.probe, a.probeErr = res, err
	a.mu.Unlock()
}

// Type implements agentrt.Adapter.
func (a *Adapter) Type() agentrt.Type { return a.typ }

// Probe implements agentrt.Adapter.
func (a *Adapter) Probe(ctx context.Context) (agentrt.ProbeResult, error) {
	if err := ctx.Err(); err != nil {
		return agentrt.ProbeResult{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.probeCalls++
	a.changedLocked()
	return a.probe, a.probeErr
}

// ProbeCalls counts Probe calls.
func (a *Adapter) ProbeCalls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.probeCalls
}

func (a *Adapter) nextScript(req agentrt.TurnRequest) Script {
	if q := a.byThread[req.ThreadID]; len(q) > 0 {
		a.byThread[req.ThreadID] = q[1:]
		return q[0]
	}
	if len(a.queue) > 0 {
		s := a.queue[0]
		a.queue = a.queue[1:]
		return s
	}
	if a.scriptFunc != nil {
		return a.scriptFunc(req)
	}
	if a.def.Steps != nil || a.def.StartErr != nil {
		return a.def
	}
	return Script{Steps: []Step{Say("fake reply: " + req.Input), Complete("")}}
}

// StartTurn implements agentrt.Adapter: it picks the turn's script and
// starts it. A script with StartErr fails here (and records no turn).
func (a *Adapter) StartTurn(ctx context.Context, req agentrt.TurnRequest) (agentrt.Turn, error) {
	a.mu.Lock()
	s := a.nextScript(req)
	a.starts = append(a.starts, req)
	a.changedLocked()
	a.mu.Unlock()
	if s.StartGate != nil {
		select {
		case <-s.StartGate:
		case <-ctx.Done():
			return nil, fmt.Errorf("fake %s: starting the turn: %w", a.typ, ctx.Err())
		}
	}
	if s.StartErr != nil {
		return nil, s.StartErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	session := s.SessionID
	if session == "" {
		session = req.SessionID
	}
	if session == "" {
		a.sessions++
		session = fmt.Sprintf("fake-%s-session-%d", a.typ, a.sessions)
	}
	t := newTurn(a, req, s, session)
	a.turns = append(a.turns, t)
	a.changedLocked()
	a.mu.Unlock()
	go t.run()
	return t, nil
}

// CloseAll implements agentrt.Adapter: it kills every live turn and
// returns after they all ended.
func (a *Adapter) CloseAll(ctx context.Context) error {
	a.mu.Lock()
	a.closeCalls++
	all := append([]*Turn(nil), a.turns...)
	a.changedLocked()
	a.mu.Unlock()
	for _, t := range all {
		if err := t.Kill(ctx); err != nil {
			return err
		}
	}
	return nil
}

// CloseAllCalls counts CloseAll calls.
func (a *Adapter) CloseAllCalls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closeCalls
}

// Turns returns every turn started so far, in start order.
func (a *Adapter) Turns() []*Turn {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*Turn(nil), a.turns...)
}

// Starts returns every StartTurn request so far, including ones still
// waiting on a StartGate or failing with StartErr.
func (a *Adapter) Starts() []agentrt.TurnRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]agentrt.TurnRequest(nil), a.starts...)
}

// WaitStarts blocks until StartTurn was called at least n times.
func (a *Adapter) WaitStarts(ctx context.Context, n int) error {
	_, err := waitFor(ctx, a, func() (struct{}, bool) { return struct{}{}, len(a.starts) >= n },
		func() string { return fmt.Sprintf("%d of %d StartTurn calls", len(a.starts), n) })
	return err
}

// Live counts turns that have not ended.
func (a *Adapter) Live() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, t := range a.turns {
		select {
		case <-t.done:
		default:
			n++
		}
	}
	return n
}

// WaitTurns blocks until at least n turns were started and returns them.
func (a *Adapter) WaitTurns(ctx context.Context, n int) ([]*Turn, error) {
	return waitFor(ctx, a, func() ([]*Turn, bool) {
		return append([]*Turn(nil), a.turns...), len(a.turns) >= n
	}, func() string { return fmt.Sprintf("%d of %d turns started", len(a.turns), n) })
}

// WaitLive blocks until exactly n turns are live (started, not ended).
func (a *Adapter) WaitLive(ctx context.Context, n int) error {
	_, err := waitFor(ctx, a, func() (struct{}, bool) {
		live := 0
		for _, t := range a.turns {
			select {
			case <-t.done:
			default:
				live++
			}
		}
		return struct{}{}, live == n
	}, func() string { return fmt.Sprintf("waiting for %d live turns", n) })
	return err
}

// changedLocked wakes everything waiting on a change. a.mu must be held.
func (a *Adapter) changedLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *Adapter) notifyChange() {
	a.mu.Lock()
	a.changedLocked()
	a.mu.Unlock()
}

// waitFor re-evaluates cond (under a.mu) after every change until it
// holds or ctx ends.
func waitFor[T any](ctx context.Context, a *Adapter, cond func() (T, bool), describe func() string) (T, error) {
	for {
		a.mu.Lock()
		v, ok := cond()
		ch := a.changed
		var what string
		if !ok {
			what = describe()
		}
		a.mu.Unlock()
		if ok {
			return v, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("fake runtime: %s: %w", what, ctx.Err())
		}
	}
}
