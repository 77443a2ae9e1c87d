package orchestrator

import (
	"slices"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

func TestPickerAppliesClaimRulesInOrder(t *testing.T) {
	cx, cc := agentrt.Codex, agentrt.ClaudeCode
	task := func(id string, rt agentrt.Type, thread string) tasks.Task {
		return tasks.Task{ID: id, Runtime: rt, ThreadID: thread}
	}
	both := map[agentrt.Type]bool{cx: true, cc: true}
	cases := []struct {
		name    string
		free    int
		held    map[agentrt.Type]int
		busy    map[string]bool
		active  map[agentrt.Type]bool
		queue   []tasks.Task
		want    []pickReason
		wantIDs []string
	}{
		{
			name: "one task per thread, oldest first",
			free: 6, active: both,
			queue: []tasks.Task{task("a1", cx, "a"), task("a2", cx, "a"), task("b1", cx, "b")},
			want:  []pickReason{pickTaken, pickLaterInThread, pickTaken},
		},
		{
			name: "a held thread blocks all its tasks",
			free: 6, active: both, busy: map[string]bool{"a": true},
			queue: []tasks.Task{task("a2", cx, "a"), task("a3", cx, "a"), task("b1", cx, "b")},
			want:  []pickReason{pickThreadBusy, pickLaterInThread, pickTaken},
		},
		{
			name: "inactive runtime is never claimed, and does not let a later task of its thread through",
			free: 6, active: map[agentrt.Type]bool{cx: true},
			queue: []tasks.Task{task("c1", cc, "c"), task("c2", cc, "c"), task("x1", cx, "x")},
			want:  []pickReason{pickRuntimeInactive, pickLaterInThread, pickTaken},
		},
		{
			name: "at most three per runtime, counting held slots",
			free: 6, active: both, held: map[agentrt.Type]int{cx: 1},
			queue: []tasks.Task{task("1", cx, "1"), task("2", cx, "2"), task("3", cx, "3"), task("4", cc, "4")},
			want:  []pickReason{pickTaken, pickTaken, pickRuntimeFull, pickTaken},
		},
		{
			name: "no worker slot left",
			free: 1, active: both,
			queue: []tasks.Task{task("1", cx, "1"), task("2", cc, "2")},
			want:  []pickReason{pickTaken, pickNoWorker},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPicker(tc.free, 3, tc.held, tc.busy, tc.active)
			var got []pickReason
			for _, q := range tc.queue {
				got = append(got, p.offer(q))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("reasons = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPickerStopsWhenNothingMoreFits(t *testing.T) {
	p := newPicker(6, 3, map[agentrt.Type]int{agentrt.Codex: 3}, nil, map[agentrt.Type]bool{agentrt.Codex: true})
	if p.more() {
		t.Fatal("more() with the only active runtime full")
	}
	p = newPicker(0, 3, nil, nil, map[agentrt.Type]bool{agentrt.Codex: true})
	if p.more() {
		t.Fatal("more() with no free worker")
	}
	p = newPicker(6, 3, nil, nil, map[agentrt.Type]bool{agentrt.Codex: false})
	if p.more() {
		t.Fatal("more() with no active runtime")
	}
	p = newPicker(6, 3, nil, nil, map[agentrt.Type]bool{agentrt.Codex: true})
	if !p.more() {
		t.Fatal("!more() with room")
	}
}
