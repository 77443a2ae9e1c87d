package orchestrator

import (
	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// picker chooses which queued tasks to claim now. It is pure: the caller
// offers queued tasks in creation order and claims those it accepts.
//
// A task is accepted when, checked in this order:
//  1. it is the oldest queued task of its thread offered so far (a
//     thread's tasks run one at a time in creation order, so a later task
//     of a thread is never taken before an earlier one);
//  2. its thread is not held by a worker (a running turn, or a killed
//     turn whose process has not exited yet);
//  3. its runtime is active (and has an adapter);
//  4. its runtime holds fewer than perRuntime worker slots;
//  5. a worker slot is free.
type picker struct {
	free       int
	perRuntime int
	held       map[agentrt.Type]int
	busy       map[string]bool
	active     map[agentrt.Type]bool
	seen       map[string]bool
}

// pickReason says why offer refused a task (for tests and debug logs).
type pickReason int

const (
	pickTaken pickReason = iota
	pickLaterInThread
	pickThreadBusy
	pickRuntimeInactive
	pickRuntimeFull
	pickNoWorker
)

func newPicker(free, perRuntime int, held map[agentrt.Type]int, busy map[string]bool, active map[agentrt.Type]bool) *picker {
	h := make(map[agentrt.Type]int, len(held))
	for k, v := range held {
		h[k] = v
	}
	return &picker{free: free, perRuntime: perRuntime, held: h, busy: busy, active: active, seen: make(map[string]bool)}
}

// offer decides on one queued task and, when it is taken, counts its slot.
func (p *picker) offer(t tasks.Task) pickReason {
	if p.seen[t.ThreadID] {
		return pickLaterInThread
	}
	p.seen[t.ThreadID] = true
	switch {
	case p.busy[t.ThreadID]:
		return pickThreadBusy
	case !p.active[t.Runtime]:
		return pickRuntimeInactive
	case p.held[t.Runtime] >= p.perRuntime:
		return pickRuntimeFull
	case p.free <= 0:
		return pickNoWorker
	}
	p.free--
	p.held[t.Runtime]++
	return pickTaken
}

// more reports whether any further task could still be taken.
func (p *picker) more() bool {
	if p.free <= 0 {
		return false
	}
	for rt, on := range p.active {
		if on && p.held[rt] < p.perRuntime {
			return true
		}
	}
	return false
}
