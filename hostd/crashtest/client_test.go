package crashtest

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/internal/devproc"
)

// client is one concurrent API user during one hostd lifetime. It owns its
// threads, so only it creates, edits, steers, kills or cancels their tasks.
type client struct {
	id      int
	cycle   int
	p       *devproc.Proc
	w       *world
	rng     *mrand.Rand
	stop    *atomic.Bool
	onAck   func() // called after every acknowledged mutation
	threads []string
	mine    []string // ids of this client's tasks
	nLabel  *atomic.Int64
}

func newKey() string {
	b := make([]byte, 12)
	_, _ = crand.Read(b)
	return "k-" + hex.EncodeToString(b)
}

// call sends one request; transport errors (hostd was killed) come back
// as status 0.
func (c *client) call(method, path string, body any, key string) (int, []byte, []byte) {
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var st int
	var resp []byte
	var err error
	if raw != nil {
		st, resp, err = c.p.DoKey(ctx, method, path, raw, key)
	} else {
		st, resp, err = c.p.DoKey(ctx, method, path, nil, key)
	}
	if err != nil {
		return 0, nil, raw
	}
	return st, resp, raw
}

func (c *client) run() {
	for !c.stop.Load() {
		switch r := c.rng.IntN(100); {
		case r < 42:
			c.create()
		case r < 45:
			c.createWithoutKey()
		case r < 85:
			c.actOnOwnTask()
		case r < 95:
			c.list()
		default:
			c.threadsRead()
		}
	}
}

// pause after a transport error so a dead hostd is not hammered.
func (c *client) pause() { time.Sleep(5 * time.Millisecond) }

func (c *client) create() {
	label := fmt.Sprintf("c%d-%d", c.id, c.nLabel.Add(1))
	thread := c.threads[c.rng.IntN(len(c.threads))]
	var script string
	hang := false
	switch r := c.rng.IntN(100); {
	case r < 25:
		script, hang = "hang", true
	case r < 33:
		script = "fail"
	default:
		script = fmt.Sprintf("msgs=%d delay=%dms", 1+c.rng.IntN(3), c.rng.IntN(300))
	}
	input := label + " " + script
	body := map[string]string{"agent_runtime": "codex", "thread_id": thread, "input_message": input}
	key := newKey()
	st, resp, raw := c.call("POST", "/v1/tasks", body, key)
	if st == 0 {
		c.w.mu.Lock()
		c.w.lost = append(c.w.lost, lostCreate{key: key, label: label, thread: thread, body: raw})
		c.w.mu.Unlock()
		c.pause()
		return
	}
	if st != http.StatusOK {
		// 409 (queue full, a thread of the other runtime) is not expected
		// here: every create on these threads should succeed.
		c.w.violation("create %s: %d %s", label, st, resp)
		return
	}
	var v taskView
	if err := json.Unmarshal(resp, &v); err != nil || v.TaskID == "" || v.Status != "queued" || v.InputMessage != input || v.ThreadID != thread {
		c.w.violation("create %s answered %s (%v)", label, resp, err)
		return
	}
	c.w.addTask(&taskRec{id: v.TaskID, thread: thread, label: label, hang: hang, created: v, input: input, runningIn: -1})
	c.mine = append(c.mine, v.TaskID)
	c.w.addAck(ack{cycle: c.cycle, kind: "create", method: "POST", path: "/v1/tasks", key: key, body: raw, status: st, resp: resp, taskID: v.TaskID, text: input})
	c.onAck()
}

// createWithoutKey: a mutation without Idempotency-Key must be refused
// and change nothing (its thread must never appear).
func (c *client) createWithoutKey() {
	thread := fmt.Sprintf("nokey-%d", c.id)
	st, resp, _ := c.call("POST", "/v1/tasks", map[string]string{"agent_runtime": "codex", "thread_id": thread, "input_message": "x"}, "")
	if st == 0 {
		c.pause()
		return
	}
	if st != http.StatusBadRequest {
		c.w.violation("create without Idempotency-Key: %d %s, want 400", st, resp)
	}
}

// actOnOwnTask reads one of its unfinished tasks and mutates it according
// to what it is now: steer or kill a running one, edit or cancel a queued
// one.
func (c *client) actOnOwnTask() {
	var open, running []string
	c.w.mu.Lock()
	for _, id := range c.mine {
		r := c.w.tasks[id]
		if r.final == nil {
			open = append(open, id)
		}
		if r.last == "running" {
			running = append(running, id)
		}
	}
	c.w.mu.Unlock()
	if len(open) == 0 {
		c.create()
		return
	}
	id := open[c.rng.IntN(len(open))]
	if len(running) > 0 && c.rng.IntN(100) < 60 {
		id = running[c.rng.IntN(len(running))] // steers and kills need running tasks
	}
	r := c.w.task(id)
	st, resp, _ := c.call("GET", "/v1/tasks/"+id, nil, "")
	if st == 0 {
		c.pause()
		return
	}
	var v taskView
	if st != http.StatusOK || json.Unmarshal(resp, &v) != nil {
		c.w.violation("GET task %s: %d %s", id, st, resp)
		return
	}
	c.w.observe(v, c.cycle)
	key := newKey()
	switch v.Status {
	case "running":
		kill := c.rng.IntN(100) < 30
		if r.hang {
			kill = c.rng.IntN(100) < 35
		}
		if kill {
			c.stopTask("kill", id, key, &r.killTried, &r.killAcked)
			return
		}
		text := fmt.Sprintf("steer-%s-%d", r.label, c.rng.IntN(1_000_000))
		st, resp, raw := c.call("POST", "/v1/tasks/"+id+"/steer", map[string]string{"steer_message": text}, key)
		if st == http.StatusOK {
			c.w.addAck(ack{cycle: c.cycle, kind: "steer", method: "POST", path: "/v1/tasks/" + id + "/steer", key: key, body: raw, status: st, resp: resp, taskID: id, text: text})
			c.onAck()
		}
	case "queued":
		if c.rng.IntN(100) < 50 {
			c.stopTask("cancel", id, key, &r.cancelTried, &r.cancelAcked)
			return
		}
		// Keep the label and the script; change a note at the end.
		fields := strings.Fields(v.InputMessage)
		kept := fields[:0]
		for _, f := range fields {
			if !strings.HasPrefix(f, "note=") {
				kept = append(kept, f)
			}
		}
		text := strings.Join(kept, " ") + fmt.Sprintf(" note=%d", c.rng.IntN(1_000_000))
		c.w.mu.Lock()
		r.maybeInputs = append(r.maybeInputs, text)
		c.w.mu.Unlock()
		st, resp, raw := c.call("PUT", "/v1/tasks/"+id, map[string]string{"input_message": text}, key)
		if st == 0 {
			c.w.mu.Lock()
			c.w.lostMutations = append(c.w.lostMutations, lostMutation{kind: "edit", method: "PUT", path: "/v1/tasks/" + id, key: key, body: raw, taskID: id, text: text})
			c.w.mu.Unlock()
		}
		if st != 0 && st != http.StatusOK {
			// Refused (the task left the queue meanwhile): it did not land.
			c.w.mu.Lock()
			r.maybeInputs = r.maybeInputs[:len(r.maybeInputs)-1]
			c.w.mu.Unlock()
		}
		if st == http.StatusOK {
			c.w.mu.Lock()
			r.input, r.maybeInputs = text, nil
			c.w.mu.Unlock()
			c.w.addAck(ack{cycle: c.cycle, kind: "edit", method: "PUT", path: "/v1/tasks/" + id, key: key, body: raw, status: st, resp: resp, taskID: id, text: text})
			c.onAck()
		}
	}
}

// list pages through the active list, recording what it shows.
// stopTask posts a kill or cancel of task id and records it: tried when it may
// have taken effect (acknowledged, or no answer at all), acked when it was
// acknowledged.
func (c *client) stopTask(kind, id, key string, tried, acked *bool) {
	path := "/v1/tasks/" + id + "/" + kind
	st, resp, raw := c.call("POST", path, nil, key)
	c.w.mu.Lock()
	*tried = *tried || st == 0 || st == http.StatusOK
	*acked = *acked || st == http.StatusOK
	if st == 0 {
		c.w.lostMutations = append(c.w.lostMutations, lostMutation{kind: kind, method: "POST", path: path, key: key, taskID: id})
	}
	c.w.mu.Unlock()
	if st == http.StatusOK {
		c.w.addAck(ack{cycle: c.cycle, kind: kind, method: "POST", path: path, key: key, body: raw, status: st, resp: resp, taskID: id})
		c.onAck()
	}
}

func (c *client) list() {
	last := ""
	for page := 0; page < 20; page++ {
		path := "/v1/tasks?limit=100"
		if last != "" {
			path += "&last_seen_task_id=" + last
		}
		st, resp, _ := c.call("GET", path, nil, "")
		if st == 0 {
			c.pause()
			return
		}
		var l struct{ Tasks []taskView }
		if st != http.StatusOK || json.Unmarshal(resp, &l) != nil {
			c.w.violation("GET %s: %d %s", path, st, resp)
			return
		}
		for _, v := range l.Tasks {
			c.w.observe(v, c.cycle)
		}
		if len(l.Tasks) < 100 {
			return
		}
		last = l.Tasks[len(l.Tasks)-1].TaskID
	}
}

func (c *client) threadsRead() {
	thread := c.threads[c.rng.IntN(len(c.threads))]
	st, resp, _ := c.call("GET", "/v1/threads/"+thread+"/tasks", nil, "")
	switch st {
	case 0:
		c.pause()
	case http.StatusOK:
		var l struct{ Tasks []taskView }
		if json.Unmarshal(resp, &l) != nil {
			c.w.violation("thread tasks %s: %s", thread, resp)
			return
		}
		for _, v := range l.Tasks {
			c.w.observe(v, c.cycle)
		}
	case http.StatusNotFound: // no task on it yet
	default:
		c.w.violation("GET thread tasks %s: %d %s", thread, st, resp)
	}
}

// readEvents follows /v1/events until stop, recording every page.
func readEvents(p *devproc.Proc, w *world, stop *atomic.Bool) {
	for !stop.Load() {
		w.mu.Lock()
		since := w.maxSeq
		w.mu.Unlock()
		evs, st, err := eventPage(p, since)
		if err != nil || st != http.StatusOK {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		for i, e := range evs {
			if e.Seq <= since || (i > 0 && e.Seq <= evs[i-1].Seq) {
				w.violation("events page since %d out of order: seq %d", since, e.Seq)
			}
		}
		w.recordEvents(evs)
		if len(evs) == 0 {
			time.Sleep(15 * time.Millisecond)
		}
	}
}

// eventPage reads GET /v1/events?since=&limit=100.
func eventPage(p *devproc.Proc, since int64) ([]eventView, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, body, err := p.Do(ctx, "GET", fmt.Sprintf("/v1/events?since=%d&limit=100", since), nil)
	if err != nil || st != http.StatusOK {
		return nil, st, err
	}
	var page struct{ Events []json.RawMessage }
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, st, err
	}
	out := make([]eventView, 0, len(page.Events))
	for _, raw := range page.Events {
		var e eventView
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, st, err
		}
		e.Raw = raw
		out = append(out, e)
	}
	return out, st, nil
}
