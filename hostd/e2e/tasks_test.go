package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/internal/fakemodel"
)

// modelPath is the model API path each CLI posts to.
var modelPath = map[string]string{"codex": "/v1/responses", "claude_code": "/v1/messages"}

// A task handed to the API runs on the real CLI, its model traffic
// crosses the proxy, and it completes with the scripted reply, with the
// events of its life in order and allowed network events for the model
// host.
func TestTaskCompletesThroughHostd(t *testing.T) {
	forEach(t, bothRTs, func(t *testing.T, rt runtime) {
		h := start(t, config{})
		h.open(rt)
		input := "hello " + rt.name
		task := h.run(rt, "thread-1", input)
		if want := "reply to: " + input; task.OutputMessage != want {
			t.Fatalf("output_message %q, want %q", task.OutputMessage, want)
		}
		if task.AgentRuntime != rt.name || task.ThreadID != "thread-1" || task.InputMessage != input || task.ErrorMessage != "" {
			t.Errorf("task %+v", task)
		}

		var got []string
		for _, e := range h.taskEvents(task.TaskID) {
			d := e.EventType
			if e.EventType == "task.message" {
				m := e.message()
				d += "/" + m.Source + ":" + m.Message
			}
			got = append(got, d)
		}
		want := []string{
			"task.message/user:" + input,
			"task.started",
			"task.message/agent:reply to: " + input,
			"task.completed",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("task events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}

		allowed := false
		for _, e := range h.networkEvents() {
			if e.Host == modelHost && e.Decision == "allowed" && e.Method == http.MethodPost && e.Path == modelPath[rt.name] && e.Protocol == "https" && e.Port == 443 {
				allowed = true
			}
			if e.Decision != "allowed" {
				t.Errorf("unexpected denial: %+v", e)
			}
		}
		if !allowed {
			t.Errorf("no allowed POST %s%s network event: %+v", modelHost, modelPath[rt.name], h.networkEvents())
		}
	})
}

// A follow-up task on the same thread resumes the conversation: the fake
// model sees the earlier turn (question and answer) in the new request.
func TestFollowUpResumesConversation(t *testing.T) {
	forEach(t, bothRTs, func(t *testing.T, rt runtime) {
		h := start(t, config{})
		h.open(rt)
		h.run(rt, "conv", "first question alpha")
		n := len(h.model.Requests())
		second := h.run(rt, "conv", "second question beta")
		if second.OutputMessage != "reply to: second question beta" {
			t.Fatalf("second output %q", second.OutputMessage)
		}
		reqs := h.model.Requests()[n:]
		if len(reqs) == 0 {
			t.Fatal("follow-up sent no model request")
		}
		last := reqs[len(reqs)-1].Body
		for _, s := range []string{"first question alpha", "reply to: first question alpha", "second question beta"} {
			if !strings.Contains(last, s) {
				t.Errorf("follow-up model request lacks %q", s)
			}
		}
		// Another thread starts a fresh conversation.
		h.run(rt, "other", "unrelated gamma")
		reqs = h.model.Requests()
		if last := reqs[len(reqs)-1].Body; strings.Contains(last, "alpha") {
			t.Error("a new thread carried another thread's history")
		}
		var list []taskJSON
		var page struct {
			Tasks []taskJSON `json:"tasks"`
		}
		h.do(http.MethodGet, "/v1/threads/conv/tasks", nil, &page)
		list = page.Tasks
		if len(list) != 2 || list[0].TaskID != second.TaskID {
			t.Errorf("thread tasks %+v", list)
		}
	})
}

// A steer posted while the turn runs reaches it: the model holds the
// first request until the steer was delivered, and the turn's final
// answer (output_message) answers the steer, whose text the model saw.
func TestSteerReachesRunningTurn(t *testing.T) {
	forEach(t, bothRTs, func(t *testing.T, rt runtime) {
		hold := newGate()
		defer hold.open()
		h := start(t, config{script: func(r fakemodel.Request) fakemodel.Reply {
			if !strings.Contains(r.Body, "change of plan") && strings.Contains(r.Body, "long task") {
				hold.wait(60 * time.Second)
			}
			return echo(r)
		}})
		h.open(rt)
		id := h.create(rt, "steered", "long task")
		h.waitTask(id, "running")
		h.waitModelRequests(1)
		var acc struct {
			Status string `json:"status"`
		}
		h.do(http.MethodPost, "/v1/tasks/"+id+"/steer", map[string]string{"steer_message": "change of plan"}, &acc)
		if acc.Status != "accepted" {
			t.Fatalf("steer answer %+v", acc)
		}
		delivered := func() bool {
			for _, e := range h.taskEvents(id) {
				if m := e.message(); e.EventType == "task.message" && m.Source == "user" && m.Message == "change of plan" {
					return true
				}
			}
			return false
		}
		h.eventually(60*time.Second, delivered, func() string { return "steer never delivered" })
		hold.open()
		task := h.waitTask(id, "completed")
		if task.OutputMessage != "reply to: change of plan" {
			t.Errorf("output_message %q, want the answer to the steer", task.OutputMessage)
		}
		saw := false
		for _, r := range h.model.Requests() {
			if strings.Contains(r.Body, "change of plan") {
				saw = true
				if !strings.Contains(r.Body, "long task") {
					t.Error("steered model request lost the original input")
				}
			}
		}
		if !saw {
			t.Error("the model never saw the steer")
		}
	})
}

// Kill ends a running turn promptly (task cancelled), and the thread
// takes a new task afterwards.
func TestKillThenThreadStillWorks(t *testing.T) {
	forEach(t, bothRTs, func(t *testing.T, rt runtime) {
		h := start(t, config{script: func(r fakemodel.Request) fakemodel.Reply {
			rep := echo(r)
			if fakemodel.LastUserText(r.Body) == "slow one" {
				rep.Delay = 2 * time.Minute
			}
			return rep
		}})
		h.open(rt)
		id := h.create(rt, "killed", "slow one")
		h.waitTask(id, "running")
		h.waitModelRequests(1)
		start := time.Now()
		var acc struct {
			Status string `json:"status"`
		}
		h.do(http.MethodPost, "/v1/tasks/"+id+"/kill", nil, &acc)
		if acc.Status != "accepted" {
			t.Fatalf("kill answer %+v", acc)
		}
		task := h.waitTask(id, "cancelled")
		if task.OutputMessage != "" {
			t.Errorf("killed task has output %q", task.OutputMessage)
		}
		t.Logf("kill to cancelled: %v", time.Since(start))
		if st, body := h.call(http.MethodPost, "/v1/tasks/"+id+"/kill", nil); st != http.StatusConflict {
			t.Errorf("second kill: %d %s", st, body)
		}
		evs := h.taskEvents(id)
		if last := evs[len(evs)-1]; last.EventType != "task.cancelled" {
			t.Errorf("last event %+v", last)
		}
		next := h.run(rt, "killed", "after kill")
		if next.OutputMessage != "reply to: after kill" {
			t.Errorf("after kill: %+v", next)
		}
		if rs := h.runtimeStatus(rt); rs.Status != "active" || len(rs.ActiveTaskIDs) != 0 {
			t.Errorf("runtime after kill %+v", rs)
		}
	})
}
