package crashtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/internal/devproc"
	"github.com/trustyclaw/trustyclaw/hostd/store"
)

const fakeCodexPkg = "github.com/trustyclaw/trustyclaw/hostd/crashtest/internal/fakecodex"

const (
	crashCycles  = 14 // SIGKILLs
	crashClients = 4
	// Every earlyKillEvery-th lifetime is killed right after start-up
	// (after 1-4 acknowledged mutations), while the restart's recovery,
	// the runtime probe and the first claims are still settling.
	earlyKillEvery = 5
	// Each lifetime is killed after a seeded random number of acknowledged
	// mutations (so the count, not the machine's speed, decides how much
	// work a cycle does), plus a seeded random delay of a few ms so the
	// kill lands among requests in flight.
	minAcksPerCycle = 18
	maxAcksPerCycle = 40
	minAcksTotal    = 200
)

// TestKill9DurabilityThroughHostdDev is issue 2's durability acceptance
// through the real binary: hostd dev with the scripted fake Codex, four
// clients creating, editing, steering, killing and cancelling tasks while
// hostd is SIGKILLed at random moments, restarted on the same state dir
// and checked: every acknowledged task and event is there, seq numbers are
// never reused, replayed Idempotency-Keys answer what they answered
// first, tasks that were running at the kill are failed.
//
// The seed is fixed (TC_CRASH_SEED overrides it to explore others).
func TestKill9DurabilityThroughHostdDev(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hostd and kills it in a loop")
	}
	seed := uint64(20261204)
	if s := os.Getenv("TC_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TC_CRASH_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d", seed)
	rng := mrand.New(mrand.NewPCG(seed, 0))

	fake := devproc.BuildCommand(t, fakeCodexPkg)
	pidDir := t.TempDir()
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	opts := devproc.Options{
		StateDir: filepath.Join(t.TempDir(), "state"),
		Password: "crash-" + hex.EncodeToString(pw),
		Args:     []string{"--codex-bin", fake, "--agent-env", "TC_FAKECODEX_PIDDIR=" + pidDir},
	}
	start := time.Now()
	p := devproc.Start(t, opts)
	w := newWorld()
	enableOpenAI(t, p, w)
	waitCodexActive(t, p)

	var nLabel atomic.Int64
	clients := make([]*client, crashClients)
	for i := range clients {
		clients[i] = &client{id: i, w: w, nLabel: &nLabel,
			rng: mrand.New(mrand.NewPCG(seed, uint64(i)+1))}
		for k := range 3 {
			clients[i].threads = append(clients[i].threads, fmt.Sprintf("c%d-t%d", i, k))
		}
	}

	for cycle := range crashCycles {
		target := minAcksPerCycle + rng.IntN(maxAcksPerCycle-minAcksPerCycle+1)
		if cycle%earlyKillEvery == earlyKillEvery-1 {
			target = 1 + rng.IntN(4)
		}
		extra := time.Duration(rng.IntN(25)) * time.Millisecond
		watermark := runUntilKilled(t, p, w, clients, cycle, target, extra)
		for _, v := range w.takeViolations() {
			t.Errorf("cycle %d, while running: %s", cycle, v)
		}
		p = devproc.Start(t, opts)
		verifyAfterRestart(t, p, w, cycle, watermark, rng)
		if t.Failed() {
			t.Fatalf("stopping after cycle %d; hostd output:\n%s", cycle, tail(p.Output(), 4000))
		}
		if (cycle+1)%earlyKillEvery != earlyKillEvery-1 {
			waitCodexActive(t, p)
		}
	}
	if err := p.Stop(); err != nil {
		t.Errorf("final SIGTERM: %v", err)
	}
	w.mu.Lock()
	nAcks := len(w.acks)
	w.mu.Unlock()
	t.Logf("%d kills, %d acknowledged mutations (%s), %d tasks, %d events, %s",
		crashCycles, nAcks, w.ackCounts(), len(w.snapshotTasks()), len(w.events), time.Since(start).Round(time.Millisecond))
	t.Logf("checks after restarts: %s", w.checkCounts())
	if nAcks < minAcksTotal {
		t.Errorf("only %d acknowledged mutations, want at least %d", nAcks, minAcksTotal)
	}
	checkFakesExited(t, pidDir)
}

// runUntilKilled drives one hostd lifetime: clients and the event reader
// run until target mutations were acknowledged, then hostd gets SIGKILL
// after extra. It returns the highest event seq seen before the kill.
func runUntilKilled(t *testing.T, p *devproc.Proc, w *world, clients []*client, cycle, target int, extra time.Duration) int64 {
	t.Helper()
	var stop atomic.Bool
	var acked atomic.Int64
	reached := make(chan struct{})
	var once sync.Once
	onAck := func() {
		if acked.Add(1) >= int64(target) {
			once.Do(func() { close(reached) })
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { readEvents(p, w, &stop) })
	for _, c := range clients {
		c.p, c.cycle, c.stop, c.onAck = p, cycle, &stop, onAck
		wg.Go(c.run)
	}
	select {
	case <-reached:
	case <-time.After(2 * time.Minute):
		stop.Store(true)
		wg.Wait()
		t.Fatalf("cycle %d: only %d of %d mutations acknowledged in 2 min; hostd output:\n%s", cycle, acked.Load(), target, tail(p.Output(), 4000))
	}
	time.Sleep(extra)
	p.Kill()
	stop.Store(true)
	// Every event the reader recorded was read before the kill, so the
	// watermark is taken once it stopped.
	wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	t.Logf("cycle %d: killed after %d acknowledged mutations (+%s); highest seq seen %d", cycle, acked.Load(), extra, w.maxSeq)
	return w.maxSeq
}

// verifyAfterRestart checks the restarted hostd against everything the
// clients were told and shown.
func verifyAfterRestart(t *testing.T, p *devproc.Proc, w *world, cycle int, watermark int64, rng *mrand.Rand) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// 1. Tasks first: the new lifetime already runs queued tasks, and an
	//    event read after these GETs contains every state they show.
	now := map[string]taskView{}
	for _, r := range w.snapshotTasks() {
		v, err := getTask(ctx, p, r.id)
		if err != nil {
			t.Errorf("cycle %d: acknowledged task %s (%s): %v", cycle, r.id, r.label, err)
			continue
		}
		now[r.id] = v
		checkTask(t, w, r, v, cycle)
		w.observe(v, cycle+1)
	}

	// 2. Events: the whole log, oldest first.
	var all []eventView
	var since int64
	for {
		evs, st, err := eventPage(p, since)
		if err != nil || st != http.StatusOK {
			t.Fatalf("cycle %d: reading events since %d: %d %v", cycle, since, st, err)
		}
		if len(evs) == 0 {
			break
		}
		all = append(all, evs...)
		since = evs[len(evs)-1].Seq
	}
	checkEvents(t, w, all, cycle, watermark)
	byTask := map[string][]eventView{}
	for _, e := range all {
		if e.TaskID != nil {
			byTask[*e.TaskID] = append(byTask[*e.TaskID], e)
		}
	}
	w.recordEvents(all)
	for _, r := range w.snapshotTasks() {
		if v, ok := now[r.id]; ok {
			checkTaskEvents(t, w, r, v, byTask[r.id], cycle)
		}
	}

	// 3. Threads: every acknowledged task is listed on its thread; a
	//    create refused for want of an Idempotency-Key left no thread.
	byThread := map[string][]string{}
	for _, r := range w.snapshotTasks() {
		byThread[r.thread] = append(byThread[r.thread], r.id)
	}
	for thread, ids := range byThread {
		st, body, err := p.Do(ctx, "GET", "/v1/threads/"+thread+"/tasks", nil)
		var l struct{ Tasks []taskView }
		if err != nil || st != http.StatusOK || json.Unmarshal(body, &l) != nil {
			t.Errorf("cycle %d: GET thread %s tasks: %d %v", cycle, thread, st, err)
			continue
		}
		listed := map[string]bool{}
		for _, v := range l.Tasks {
			listed[v.TaskID] = true
		}
		for _, id := range ids {
			if !listed[id] {
				t.Errorf("cycle %d: task %s missing from GET /v1/threads/%s/tasks", cycle, id, thread)
			}
		}
	}
	for i := range crashClients {
		if st, body, err := p.Do(ctx, "GET", fmt.Sprintf("/v1/threads/nokey-%d/tasks", i), nil); err != nil || st != http.StatusNotFound {
			t.Errorf("cycle %d: a create without Idempotency-Key left thread nokey-%d: %d %s %v", cycle, i, st, body, err)
		}
	}

	// 4. Idempotent replays: every key acknowledged in this lifetime and
	//    a sample of older ones answer exactly what they answered first.
	w.mu.Lock()
	var replay []ack
	var older []ack
	for _, a := range w.acks {
		if a.cycle == cycle || a.kind == "policy" {
			replay = append(replay, a)
		} else {
			older = append(older, a)
		}
	}
	w.mu.Unlock()
	for range min(20, len(older)) {
		replay = append(replay, older[rng.IntN(len(older))])
	}
	w.mu.Lock()
	w.checks["replay"] += len(replay)
	w.checks["event-compared"] += len(all)
	w.mu.Unlock()
	for _, a := range replay {
		var body any
		if a.body != nil {
			body = a.body
		}
		st, resp, err := p.DoKey(ctx, a.method, a.path, body, a.key)
		if err != nil || st != a.status || string(resp) != string(a.resp) {
			t.Errorf("cycle %d: replay of %s %s (key %s, %s acknowledged in cycle %d): %d %s %v; first answer %d %s",
				cycle, a.method, a.path, a.key, a.kind, a.cycle, st, resp, err, a.status, a.resp)
		}
	}
	retryLostCreates(t, p, w, cycle)
	retryLostMutations(t, p, w, cycle)
	for _, v := range w.takeViolations() {
		t.Errorf("cycle %d, after restart: %s", cycle, v)
	}
}

// retryLostCreates sends every create whose answer was lost in the kill
// again with its Idempotency-Key, as a client would. The retry must
// succeed and there must be exactly one task for it: either the create
// had committed (with its key's answer, in the same transaction) and the
// retry replays it, or it had not and the retry runs it now.
func retryLostCreates(t *testing.T, p *devproc.Proc, w *world, cycle int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, l := range takeAll(w, &w.lost) {
		st, resp, err := p.DoKey(ctx, "POST", "/v1/tasks", l.body, l.key)
		var v taskView
		if err != nil || st != http.StatusOK || json.Unmarshal(resp, &v) != nil {
			t.Errorf("cycle %d: retry of lost create %s: %d %s %v", cycle, l.label, st, resp, err)
			continue
		}
		var in struct {
			InputMessage string `json:"input_message"`
		}
		_ = json.Unmarshal(l.body, &in)
		w.addTask(&taskRec{id: v.TaskID, thread: l.thread, label: l.label, hang: strings.Contains(in.InputMessage, " hang"),
			created: v, input: v.InputMessage, runningIn: -1})
		w.addAck(ack{cycle: cycle + 1, kind: "create-retry", method: "POST", path: "/v1/tasks", key: l.key, body: l.body, status: st, resp: resp, taskID: v.TaskID})
		st, body, err := p.Do(ctx, "GET", "/v1/threads/"+l.thread+"/tasks", nil)
		var tl struct{ Tasks []taskView }
		if err != nil || st != http.StatusOK || json.Unmarshal(body, &tl) != nil {
			t.Errorf("cycle %d: GET thread %s: %d %v", cycle, l.thread, st, err)
			continue
		}
		n := 0
		for _, tv := range tl.Tasks {
			if strings.HasPrefix(tv.InputMessage, l.label+" ") {
				n++
			}
		}
		w.mu.Lock()
		w.checks["lost-create-retried"]++
		w.mu.Unlock()
		if n != 1 {
			t.Errorf("cycle %d: after retrying lost create %s with its key, thread %s has %d tasks with its label, want 1", cycle, l.label, l.thread, n)
		}
	}
}

// retryLostMutations sends every edit, kill and cancel whose answer was
// lost in the kill again with its Idempotency-Key. Each commits its answer
// with its change, so one that landed must replay 200 — not meet the
// state it left behind (a 409 "task is cancelled" for a kill, as before
// the answer was committed with the change). One that had not landed runs
// now: 200 if the task still allows it, 409 otherwise.
func retryLostMutations(t *testing.T, p *devproc.Proc, w *world, cycle int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, l := range takeAll(w, &w.lostMutations) {
		before, err := getTask(ctx, p, l.taskID)
		if err != nil {
			t.Errorf("cycle %d: %v", cycle, err)
			continue
		}
		// landed: the state shows the change, and nothing else could have
		// made it (only this client mutates its tasks, and a cancelled
		// task is final; an edit's text is unique).
		landed := before.Status == "cancelled"
		if l.kind == "edit" {
			landed = before.InputMessage == l.text
		}
		var reqBody any
		if l.body != nil {
			reqBody = l.body
		}
		st, resp, err := p.DoKey(ctx, l.method, l.path, reqBody, l.key)
		if err != nil {
			t.Errorf("cycle %d: retry of lost %s %s: %v", cycle, l.kind, l.path, err)
			continue
		}
		w.mu.Lock()
		w.checks["lost-"+l.kind+"-retried"]++
		if landed {
			w.checks["lost-"+l.kind+"-landed"]++
		}
		w.mu.Unlock()
		if landed && st != http.StatusOK {
			t.Errorf("cycle %d: lost %s of task %s had landed (%s), but its retry with the same key got %d %s, want the original 200",
				cycle, l.kind, l.taskID, before.outcome(), st, resp)
			continue
		}
		switch st {
		case http.StatusOK:
		case http.StatusConflict:
			continue
		default:
			t.Errorf("cycle %d: retry of lost %s %s: %d %s", cycle, l.kind, l.path, st, resp)
			continue
		}
		// 200: the change is in force now, and the answer says so.
		after, err := getTask(ctx, p, l.taskID)
		if err != nil {
			t.Errorf("cycle %d: %v", cycle, err)
			continue
		}
		r := w.task(l.taskID)
		w.mu.Lock()
		switch l.kind {
		case "edit":
			var v taskView
			if json.Unmarshal(resp, &v) != nil || v.InputMessage != l.text {
				t.Errorf("cycle %d: retried edit of %s answered %s, want input %q", cycle, l.taskID, resp, l.text)
			}
			if !landed {
				r.input = l.text
			}
		case "kill", "cancel":
			if string(resp) != `{"status":"accepted"}`+"\n" {
				t.Errorf("cycle %d: retried %s of %s answered %q", cycle, l.kind, l.taskID, resp)
			}
			if after.Status != "cancelled" {
				t.Errorf("cycle %d: retried %s of %s answered 200 but the task is %s", cycle, l.kind, l.taskID, after.outcome())
			}
			if l.kind == "kill" {
				r.killTried, r.killAcked = true, true
			} else {
				r.cancelTried, r.cancelAcked = true, true
			}
		}
		w.mu.Unlock()
		w.addAck(ack{cycle: cycle + 1, kind: l.kind + "-retry", method: l.method, path: l.path, key: l.key, body: l.body, status: st, resp: resp, taskID: l.taskID, text: l.text})
	}
}

// getTask reads one task through the API.
func getTask(ctx context.Context, p *devproc.Proc, id string) (taskView, error) {
	st, body, err := p.Do(ctx, "GET", "/v1/tasks/"+id, nil)
	var v taskView
	if err == nil && st != http.StatusOK {
		err = fmt.Errorf("status %d: %s", st, body)
	}
	if err == nil {
		err = json.Unmarshal(body, &v)
	}
	if err != nil {
		return taskView{}, fmt.Errorf("GET task %s: %w", id, err)
	}
	return v, nil
}

// takeAll empties one of the world's lists of lost requests and returns
// what it held.
func takeAll[T any](w *world, list *[]T) []T {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := *list
	*list = nil
	return out
}

// checkTask compares one task after a restart with what was acknowledged
// and seen about it.
func checkTask(t *testing.T, w *world, r *taskRec, v taskView, cycle int) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	bad := func(format string, args ...any) {
		t.Errorf("cycle %d: task %s (%s, hang=%v): %s", cycle, r.id, r.label, r.hang, fmt.Sprintf(format, args...))
	}
	if v.ThreadID != r.created.ThreadID || v.AgentRuntime != r.created.AgentRuntime || v.CreatedAt != r.created.CreatedAt {
		bad("identity changed: %+v, created as %+v", v, r.created)
	}
	switch {
	case v.InputMessage == r.input:
	case slices.Contains(r.maybeInputs, v.InputMessage):
		r.input = v.InputMessage // an edit whose answer was lost landed
	default:
		bad("input %q, acknowledged %q (unanswered edits %q)", v.InputMessage, r.input, r.maybeInputs)
	}
	r.maybeInputs = nil
	if (r.killAcked || r.cancelAcked) && v.Status != "cancelled" {
		bad("kill/cancel acknowledged, status %s", v.outcome())
	}
	if r.runningIn == cycle && (v.Status == "running" || v.Status == "queued") {
		bad("was running at the kill, now %s", v.Status)
	}
	if r.runningIn == cycle {
		w.checks["running-at-kill"]++
	}
	if r.hang && r.runningIn == cycle && !r.killTried {
		w.checks["hanging-at-kill-failed"]++
		if v.Status != "failed" || v.ErrorMessage == nil || *v.ErrorMessage != store.RestartError {
			bad("hanging turn running at the kill: want failed %q, got %s", store.RestartError, v.outcome())
		}
	}
	if r.final != nil {
		w.checks["finished-unchanged"]++
	}
	w.checks["task-get"]++
	if r.final != nil && r.final.outcome() != v.outcome() {
		bad("was %s before the kill, now %s", r.final.outcome(), v.outcome())
	}
	switch v.Status {
	case "completed":
		if r.hang || v.OutputMessage == nil || *v.OutputMessage != "done:"+r.label {
			bad("completed with %s", v.outcome())
		}
	case "failed":
		ok := v.ErrorMessage != nil && (*v.ErrorMessage == store.RestartError ||
			strings.Contains(*v.ErrorMessage, "scripted failure") && strings.Contains(r.input, " fail"))
		if !ok {
			bad("failed for an unexpected reason: %s", v.outcome())
		}
	}
}

// checkEvents checks the full event log after a restart: strictly
// increasing seq, unique ids, every event seen before unchanged, and no
// event at or below the pre-kill high-water mark that was not seen then
// (a seq reused or filled in after the restart).
func checkEvents(t *testing.T, w *world, all []eventView, cycle int, watermark int64) {
	t.Helper()
	ids := map[string]int64{}
	got := map[int64]eventView{}
	for i, e := range all {
		if i > 0 && e.Seq <= all[i-1].Seq {
			t.Errorf("cycle %d: event seq not increasing: %d after %d", cycle, e.Seq, all[i-1].Seq)
		}
		if prev, dup := ids[e.EventID]; dup {
			t.Errorf("cycle %d: event id %s at seq %d and %d", cycle, e.EventID, prev, e.Seq)
		}
		ids[e.EventID] = e.Seq
		got[e.Seq] = e
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.events) > 0 && len(all) == 0 {
		t.Errorf("cycle %d: event log empty after restart", cycle)
	}
	for seq, seen := range w.events {
		e, ok := got[seq]
		switch {
		case !ok:
			t.Errorf("cycle %d: event seq %d (%s) seen before the kill is gone", cycle, seq, seen.Raw)
		case string(e.Raw) != string(seen.Raw):
			t.Errorf("cycle %d: event seq %d changed: %s → %s", cycle, seq, seen.Raw, e.Raw)
		}
	}
	for _, e := range all {
		if _, seen := w.events[e.Seq]; !seen && e.Seq <= watermark {
			t.Errorf("cycle %d: event seq %d (%s) appeared at or below the pre-kill high-water mark %d", cycle, e.Seq, e.Raw, watermark)
		}
	}
}

// checkTaskEvents: what a task's acknowledged mutations and current
// state imply about its events.
func checkTaskEvents(t *testing.T, w *world, r *taskRec, v taskView, evs []eventView, cycle int) {
	t.Helper()
	has := func(typ, source, msg string) bool {
		for _, e := range evs {
			if e.EventType != typ {
				continue
			}
			if typ != "task.message" {
				return true
			}
			var m messagePayload
			if json.Unmarshal(e.Payload, &m) == nil && m.Source == source && m.Message == msg {
				return true
			}
		}
		return false
	}
	bad := func(format string, args ...any) {
		t.Errorf("cycle %d: events of task %s (%s): %s", cycle, r.id, r.label, fmt.Sprintf(format, args...))
	}
	if !has("task.message", "user", r.created.InputMessage) {
		bad("no task.message with the input")
	}
	w.mu.Lock()
	var edits []string
	for _, a := range w.acks {
		if a.taskID == r.id && (a.kind == "edit" || a.kind == "edit-retry") {
			edits = append(edits, a.text)
		}
	}
	w.mu.Unlock()
	for _, e := range edits {
		if !has("task.message", "user", e) {
			bad("no task.message for the acknowledged edit %q", e)
		}
	}
	switch v.Status {
	case "cancelled":
		if !has("task.cancelled", "", "") {
			bad("cancelled without task.cancelled")
		}
	case "completed":
		if !has("task.completed", "", "") || !has("task.message", "agent", "done:"+r.label) {
			bad("completed without task.completed and the agent's message")
		}
	case "failed":
		if !has("task.failed", "", "") {
			bad("failed without task.failed")
		}
	}
	if v.Status != "queued" && !has("task.started", "", "") && !(v.Status == "cancelled" && !r.killAcked) {
		bad("%s without task.started", v.Status)
	}
}

func enableOpenAI(t *testing.T, p *devproc.Proc, w *world) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body := []byte(`{"managed_ai_provider_network_access":{"openai":true},"allowed_network_access":{}}`)
	key := newKey()
	st, resp, err := p.DoKey(ctx, "PUT", "/v1/network/policy", body, key)
	if err != nil || st != http.StatusOK {
		t.Fatalf("PUT policy: %d %s %v", st, resp, err)
	}
	w.addAck(ack{cycle: -1, kind: "policy", method: "PUT", path: "/v1/network/policy", key: key, body: body, status: st, resp: resp})
}

// waitCodexActive waits until the supervisor has probed the fake and
// reports codex active.
func waitCodexActive(t *testing.T, p *devproc.Proc) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, body, err := p.Do(ctx, "GET", "/v1/agent-runtime/status", nil)
		cancel()
		var s struct {
			Runtimes []struct{ Type, Status, ErrorMessage string }
		}
		if err == nil && st == http.StatusOK && json.Unmarshal(body, &s) == nil {
			for _, r := range s.Runtimes {
				if r.Type == "codex" && r.Status == "active" {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("codex not active within a minute: %d %s %v\n%s", st, body, err, tail(p.Output(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkFakesExited: every fake Codex process must be gone once its hostd
// is (they see EOF on stdin when hostd dies).
func checkFakesExited(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Error("no fake codex process ever started")
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("fake codex pid %d still running after its hostd ended", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("%d fake codex processes started, all exited", len(entries))
}

// alive: the process exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state is the first field after the command name "(...)".
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
