package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/internal/fakemodel"
)

// Closing the model host in the policy makes the next turn fail promptly
// (the proxy refuses it; bounded retries), the denial is in the network
// log, and re-opening the host makes the thread work again.
func TestClosedHostFailsTurnAndIsLogged(t *testing.T) {
	forEach(t, bothRTs, func(t *testing.T, rt runtime) {
		h := start(t, config{})
		h.open(rt)
		h.run(rt, "net", "while open")
		before := len(h.model.Requests())

		h.setPolicy(map[string]bool{rt.provider: true}) // provider on, model host closed
		start := time.Now()
		failed := h.waitTask(h.create(rt, "net", "while closed"), "failed")
		took := time.Since(start)
		t.Logf("closed host: failed after %v: %s", took, failed.ErrorMessage)
		if failed.ErrorMessage == "" {
			t.Error("failed task has no error_message")
		}
		if took > 60*time.Second {
			t.Errorf("a refused model host took %v to fail the turn", took)
		}
		if n := len(h.model.Requests()); n != before {
			t.Errorf("the fake model got %d requests while its host was closed", n-before)
		}
		var denial *netEventJSON
		for _, e := range h.networkEvents() {
			if e.Host == modelHost && e.Decision == "denied" {
				denial = &e
				break
			}
		}
		if denial == nil {
			t.Fatalf("no denial for %s in the network events: %+v", modelHost, h.networkEvents())
		}
		if denial.Reason == "" || denial.Port != 443 {
			t.Errorf("denial %+v", *denial)
		}

		h.setPolicy(map[string]bool{rt.provider: true}, modelHost)
		// Claude keeps the refused turn's input in its session and sends
		// it together with the next one; the answer ends with the new text.
		if again := h.run(rt, "net", "open again"); !strings.HasPrefix(again.OutputMessage, "reply to: ") || !strings.HasSuffix(again.OutputMessage, "open again") {
			t.Errorf("after re-opening: %+v", again)
		}
	})
}

// Turning the provider off deactivates the runtime (status and event),
// fails its running task, leaves a new task queued, and turning it back
// on runs that task.
func TestProviderOffDeactivatesRuntimeAndFailsRunningTask(t *testing.T) {
	forEach(t, bothRTs, func(t *testing.T, rt runtime) {
		hold := newGate()
		defer hold.open()
		h := start(t, config{script: func(r fakemodel.Request) fakemodel.Reply {
			if fakemodel.LastUserText(r.Body) == "held turn" {
				hold.wait(60 * time.Second)
			}
			return echo(r)
		}})
		h.open(rt)
		id := h.create(rt, "prov", "held turn")
		h.waitTask(id, "running")
		h.waitModelRequests(1)

		h.setPolicy(map[string]bool{rt.provider: false}, modelHost)
		if st := h.runtimeStatus(rt); st.Status != "deactivated" {
			t.Errorf("runtime after PUT: %+v", st)
		}
		failed := h.waitTask(id, "failed")
		if failed.ErrorMessage == "" {
			t.Error("no error_message on the failed task")
		}
		t.Logf("running task failed: %s", failed.ErrorMessage)
		sawDeactivated := false
		for _, e := range h.events("/v1/events") {
			if e.EventType == "agent_runtime.deactivated" && strings.Contains(string(e.Payload), rt.name) {
				sawDeactivated = true
			}
		}
		if !sawDeactivated {
			t.Error("no agent_runtime.deactivated event")
		}

		queued := h.create(rt, "prov-2", "after re-enable")
		time.Sleep(500 * time.Millisecond)
		if st := h.task(queued).Status; st != "queued" {
			t.Errorf("task on a deactivated runtime is %s, want queued", st)
		}
		h.open(rt)
		if done := h.waitTask(queued, "completed"); done.OutputMessage != "reply to: after re-enable" {
			t.Errorf("queued task after re-enable: %+v", done)
		}
		if st, body := h.call(http.MethodGet, "/v1/agent-runtime/status", nil); st != http.StatusOK {
			t.Errorf("status route: %d %s", st, body)
		}
	})
}
