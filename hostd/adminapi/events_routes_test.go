package adminapi

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

type eventPage struct {
	Events []struct {
		EventID   string          `json:"event_id"`
		Seq       int64           `json:"seq"`
		Timestamp string          `json:"timestamp"`
		EventType string          `json:"event_type"`
		TaskID    *string         `json:"task_id"`
		Payload   json.RawMessage `json:"payload"`
	} `json:"events"`
}

func TestEventPagingWithSinceAndLimit(t *testing.T) {
	h := newHarness(t)
	id := h.createTask("codex", "t1", "hello")
	h.tasks.Start(id)
	h.tasks.AppendRuntimeEvent(t.Context(), "agent_runtime.active", "codex")
	for i := 0; i < 10; i++ {
		h.tasks.AddEvent("task.message", id, map[string]string{"message": "m", "source": "agent"})
	}
	var page eventPage
	r := h.do("GET", "/v1/events", "")
	mustStatus(t, r, http.StatusOK)
	_ = json.Unmarshal(r.body, &page)
	if len(page.Events) != 5 || page.Events[0].Seq != 1 || page.Events[4].Seq != 5 {
		t.Fatalf("default page: %s", r.body)
	}
	_ = json.Unmarshal(h.do("GET", "/v1/events?since=5&limit=100", "").body, &page)
	if len(page.Events) != 8 || page.Events[0].Seq != 6 {
		t.Fatalf("since=5: %d events from %d", len(page.Events), page.Events[0].Seq)
	}
	_ = json.Unmarshal(h.do("GET", "/v1/events?since=13", "").body, &page)
	if len(page.Events) != 0 {
		t.Fatal("events past the end")
	}
	// A runtime event has task_id null (present, not omitted).
	r = h.do("GET", "/v1/events?since=2&limit=1", "")
	var raw struct {
		Events []map[string]json.RawMessage `json:"events"`
	}
	_ = json.Unmarshal(r.body, &raw)
	if string(raw.Events[0]["task_id"]) != "null" || string(raw.Events[0]["payload"]) != `{"agent_runtime":"codex"}` {
		t.Fatalf("runtime event: %s", r.body)
	}
	if len(raw.Events[0]) != 6 {
		t.Fatalf("event fields: %s", r.body)
	}

	// Per task.
	_ = json.Unmarshal(h.do("GET", "/v1/tasks/"+id+"/events?limit=100", "").body, &page)
	if len(page.Events) != 12 {
		t.Fatalf("task events: %d", len(page.Events))
	}
	for _, e := range page.Events {
		if e.TaskID == nil || *e.TaskID != id {
			t.Fatal("task event for another task")
		}
	}
}

func TestNetworkEventsPage(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 7; i++ {
		h.net.addEvent(netstate.Event{Protocol: "https", Method: "GET", Host: "example.com", Port: 443, Path: "/", Decision: "denied", Reason: "no rule"})
	}
	h.net.addEvent(netstate.Event{Protocol: "https", Method: "POST", Host: "api.openai.com", Port: 443, Path: "/v1/responses", Decision: "allowed", Reason: "ignored"})
	r := h.do("GET", "/v1/network/events?since=5", "")
	mustStatus(t, r, http.StatusOK)
	var page struct {
		Events []map[string]any `json:"events"`
	}
	_ = json.Unmarshal(r.body, &page)
	if len(page.Events) != 3 || page.Events[0]["seq"].(float64) != 6 {
		t.Fatalf("page: %s", r.body)
	}
	if page.Events[0]["reason"] != "no rule" {
		t.Fatal("denial without reason")
	}
	if _, ok := page.Events[2]["reason"]; ok {
		t.Fatal("allowed event carries a reason")
	}
	for _, k := range []string{"seq", "timestamp", "protocol", "method", "host", "port", "path", "query", "decision"} {
		if _, ok := page.Events[2][k]; !ok {
			t.Fatalf("network event lacks %s: %s", k, r.body)
		}
	}
}
