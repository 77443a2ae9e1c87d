package adminapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

func TestTaskObjectShape(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/v1/tasks", `{"agent_runtime":"codex","thread_id":"th-1","input_message":"hello"}`)
	mustStatus(t, r, http.StatusOK)
	got := r.json(t)
	want := []string{"task_id", "status", "agent_runtime", "thread_id", "input_message", "created_at", "updated_at"}
	if len(got) != len(want) {
		t.Fatalf("queued task has fields %v, want exactly %v", keys(got), want)
	}
	for _, k := range want {
		if _, ok := got[k]; !ok {
			t.Fatalf("missing %s in %s", k, r.body)
		}
	}
	if got["status"] != "queued" || got["agent_runtime"] != "codex" || got["thread_id"] != "th-1" || got["input_message"] != "hello" {
		t.Fatalf("wrong values: %s", r.body)
	}
	ts, err := time.Parse(time.RFC3339, got["created_at"].(string))
	if err != nil || !strings.HasSuffix(got["created_at"].(string), "Z") || !ts.Equal(h.clock.Now()) {
		t.Fatalf("created_at %v is not RFC 3339 UTC of the clock", got["created_at"])
	}
	id := got["task_id"].(string)

	// output_message only when completed; error_message only when failed.
	h.tasks.Start(id)
	got = h.do("GET", "/v1/tasks/"+id, "").json(t)
	if _, ok := got["output_message"]; ok {
		t.Fatal("running task has output_message")
	}
	h.tasks.Finish(id, tasks.StatusCompleted, "done!")
	got = h.do("GET", "/v1/tasks/"+id, "").json(t)
	if got["output_message"] != "done!" || got["error_message"] != nil {
		t.Fatalf("completed task: %v", got)
	}
	id2 := h.createTask("codex", "th-1", "again")
	h.tasks.Start(id2)
	h.tasks.Finish(id2, tasks.StatusFailed, "boom")
	got = h.do("GET", "/v1/tasks/"+id2, "").json(t)
	if got["error_message"] != "boom" || got["output_message"] != nil {
		t.Fatalf("failed task: %v", got)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestGetUnknownTaskIs404(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/v1/tasks/task_9999", "/v1/tasks/" + strings.Repeat("x", 200), "/v1/tasks/a%20b"} {
		r := h.do("GET", p, "")
		mustStatus(t, r, http.StatusNotFound)
		r.errMsg(t)
	}
	mustStatus(t, h.do("POST", "/v1/tasks/task_9999/cancel", ""), http.StatusNotFound)
	mustStatus(t, h.do("GET", "/v1/tasks/task_9999/events", ""), http.StatusNotFound)
}

type listPage struct {
	Tasks []struct {
		TaskID        string `json:"task_id"`
		Status        string `json:"status"`
		QueuePosition *int   `json:"queue_position"`
	} `json:"tasks"`
}

func TestListPagesRunningFirstWithQueuePositions(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for i := 0; i < 12; i++ {
		ids = append(ids, h.createTask("codex", fmt.Sprintf("t%d", i), "x"))
	}
	h.tasks.Start(ids[3])
	h.tasks.Start(ids[7])
	done := h.createTask("codex", "t-done", "x")
	h.tasks.Start(done)
	h.tasks.Finish(done, tasks.StatusCompleted, "ok")

	var seen []string
	var positions []int
	last := ""
	for page := 0; ; page++ {
		p := "/v1/tasks"
		if last != "" {
			p += "?last_seen_task_id=" + last
		}
		r := h.do("GET", p, "")
		mustStatus(t, r, http.StatusOK)
		var lp listPage
		if err := json.Unmarshal(r.body, &lp); err != nil {
			t.Fatal(err)
		}
		if len(lp.Tasks) > DefaultPageSize {
			t.Fatalf("page of %d, want at most 5", len(lp.Tasks))
		}
		if len(lp.Tasks) == 0 {
			break
		}
		for _, tk := range lp.Tasks {
			if tk.QueuePosition == nil {
				t.Fatal("list entry without queue_position")
			}
			seen = append(seen, tk.TaskID)
			positions = append(positions, *tk.QueuePosition)
			last = tk.TaskID
		}
		if page > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 12 {
		t.Fatalf("listed %d tasks, want the 12 active ones (finished ones are not listed)", len(seen))
	}
	if seen[0] != ids[3] || seen[1] != ids[7] || positions[0] != 0 || positions[1] != 0 {
		t.Fatalf("running tasks not first with position 0: %v %v", seen[:2], positions[:2])
	}
	for i := 2; i < len(positions); i++ {
		if positions[i] != i-1 {
			t.Fatalf("queue positions %v, want 1, 2, … after the running ones", positions)
		}
	}
	// limit is honoured.
	var lp listPage
	_ = json.Unmarshal(h.do("GET", "/v1/tasks?limit=100", "").body, &lp)
	if len(lp.Tasks) != 12 {
		t.Fatalf("limit=100 gave %d", len(lp.Tasks))
	}
	_ = json.Unmarshal(h.do("GET", "/v1/tasks?limit=1", "").body, &lp)
	if len(lp.Tasks) != 1 {
		t.Fatalf("limit=1 gave %d", len(lp.Tasks))
	}
}

func TestThreadBelongsToItsFirstRuntime(t *testing.T) {
	h := newHarness(t)
	h.createTask("codex", "shared", "x")
	r := h.do("POST", "/v1/tasks", `{"agent_runtime":"claude_code","thread_id":"shared","input_message":"x"}`)
	mustStatus(t, r, http.StatusConflict)
	if msg := r.errMsg(t); !strings.Contains(msg, "belongs to codex") || strings.HasPrefix(msg, "conflict:") {
		t.Fatalf("message %q", msg)
	}
	h.createTask("codex", "shared", "y")
}

func TestQueueCapIs409At1000(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < tasks.MaxQueuedTasks; i++ {
		if _, err := h.tasks.Create(t.Context(), "codex", fmt.Sprintf("t%d", i), "x"); err != nil {
			t.Fatal(err)
		}
	}
	r := h.do("POST", "/v1/tasks", createBody)
	mustStatus(t, r, http.StatusConflict)
	r.errMsg(t)
}

func TestSteerRules(t *testing.T) {
	h := newHarness(t)
	id := h.createTask("codex", "t1", "x")
	r := h.do("POST", "/v1/tasks/"+id+"/steer", `{"steer_message":"faster"}`)
	mustStatus(t, r, http.StatusConflict) // queued, not running
	h.tasks.Start(id)
	for i := 0; i < tasks.MaxPendingSteers; i++ {
		r = h.do("POST", "/v1/tasks/"+id+"/steer", `{"steer_message":"faster"}`)
		mustStatus(t, r, http.StatusOK)
		if string(r.body) != "{\"status\":\"accepted\"}\n" {
			t.Fatalf("steer body %s", r.body)
		}
	}
	mustStatus(t, h.do("POST", "/v1/tasks/"+id+"/steer", `{"steer_message":"one more"}`), http.StatusConflict)
	mustStatus(t, h.do("POST", "/v1/tasks/"+id+"/steer", `{"steer_message":""}`), http.StatusBadRequest)
	mustStatus(t, h.do("POST", "/v1/tasks/"+id+"/steer", `{"input_message":"x"}`), http.StatusBadRequest)
}

func TestEditCancelKill(t *testing.T) {
	h := newHarness(t)
	id := h.createTask("codex", "t1", "x")
	r := h.do("PUT", "/v1/tasks/"+id, `{"input_message":"edited"}`)
	mustStatus(t, r, http.StatusOK)
	if r.json(t)["input_message"] != "edited" {
		t.Fatalf("edit: %s", r.body)
	}
	mustStatus(t, h.do("POST", "/v1/tasks/"+id+"/kill", ""), http.StatusConflict) // not running
	mustStatus(t, h.do("POST", "/v1/tasks/"+id+"/cancel", "{}"), http.StatusOK)
	mustStatus(t, h.do("POST", "/v1/tasks/"+id+"/cancel", ""), http.StatusConflict)
	mustStatus(t, h.do("PUT", "/v1/tasks/"+id, `{"input_message":"late"}`), http.StatusConflict)

	id2 := h.createTask("codex", "t1", "y")
	h.tasks.Start(id2)
	mustStatus(t, h.do("POST", "/v1/tasks/"+id2+"/cancel", ""), http.StatusConflict) // running
	mustStatus(t, h.do("POST", "/v1/tasks/"+id2+"/kill", `{"force":true}`), http.StatusBadRequest)
	r = h.do("POST", "/v1/tasks/"+id2+"/kill", "")
	mustStatus(t, r, http.StatusOK)
	if got := h.do("GET", "/v1/tasks/"+id2, "").json(t)["status"]; got != "cancelled" {
		t.Fatalf("killed task is %v", got)
	}
}

func TestThreadsAndThreadTasks(t *testing.T) {
	h := newHarness(t)
	a := h.createTask("codex", "alpha", "1")
	h.clock.Advance(time.Second)
	h.createTask("claude_code", "beta", "2")
	h.clock.Advance(time.Second)
	b := h.createTask("codex", "alpha", "3")
	h.tasks.Start(a)

	r := h.do("GET", "/v1/threads", "")
	mustStatus(t, r, http.StatusOK)
	var th struct {
		Threads []struct {
			ThreadID     string `json:"thread_id"`
			AgentRuntime string `json:"agent_runtime"`
			LastUsedAt   string `json:"last_used_at"`
			ActiveTasks  []struct {
				TaskID string `json:"task_id"`
				Status string `json:"status"`
			} `json:"active_tasks"`
			TaskCount int `json:"task_count"`
		} `json:"threads"`
	}
	if err := json.Unmarshal(r.body, &th); err != nil {
		t.Fatal(err)
	}
	if len(th.Threads) != 2 || th.Threads[0].ThreadID != "alpha" || th.Threads[0].TaskCount != 2 ||
		len(th.Threads[0].ActiveTasks) != 2 || th.Threads[1].AgentRuntime != "claude_code" {
		t.Fatalf("threads: %s", r.body)
	}
	if !strings.Contains(string(r.body), `"active_tasks":[`) {
		t.Fatal("active_tasks not a list")
	}

	r = h.do("GET", "/v1/threads/alpha/tasks", "")
	mustStatus(t, r, http.StatusOK)
	var tt struct {
		Tasks []map[string]any `json:"tasks"`
	}
	_ = json.Unmarshal(r.body, &tt)
	if len(tt.Tasks) != 2 || tt.Tasks[0]["task_id"] != b {
		t.Fatalf("thread tasks: %s", r.body)
	}
	if _, ok := tt.Tasks[0]["queue_position"]; ok {
		t.Fatal("thread tasks carry queue_position")
	}
	mustStatus(t, h.do("GET", "/v1/threads/nobody/tasks", ""), http.StatusNotFound)
	mustStatus(t, h.do("GET", "/v1/threads/"+strings.Repeat("x", 129)+"/tasks", ""), http.StatusNotFound)
}

func TestEmptyListsAreArrays(t *testing.T) {
	h := newHarness(t)
	for p, want := range map[string]string{
		"/v1/tasks":          `{"tasks":[]}`,
		"/v1/threads":        `{"threads":[]}`,
		"/v1/events":         `{"events":[]}`,
		"/v1/network/events": `{"events":[]}`,
	} {
		if got := strings.TrimSpace(string(h.do("GET", p, "").body)); got != want {
			t.Errorf("%s = %s, want %s", p, got, want)
		}
	}
}
