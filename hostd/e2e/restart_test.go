package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/internal/fakemodel"
)

// SIGKILL of hostd with a turn running, then a start on the same state
// dir: the task is failed (not left running), its thread takes new tasks,
// and what was stored before survives.
func TestRestartMarksRunningTaskFailed(t *testing.T) {
	forEach(t, bothRTs, func(t *testing.T, rt runtime) {
		hold := newGate()
		defer hold.open()
		h := start(t, config{script: func(r fakemodel.Request) fakemodel.Reply {
			if fakemodel.LastUserText(r.Body) == "interrupted by a crash" {
				hold.wait(60 * time.Second)
			}
			return echo(r)
		}})
		h.open(rt)
		done := h.run(rt, "crash", "before the crash")
		id := h.create(rt, "crash", "interrupted by a crash")
		h.waitTask(id, "running")
		h.waitModelRequests(2)

		h.restartHard()
		failed := h.task(id)
		if failed.Status != "failed" || failed.ErrorMessage == "" {
			t.Fatalf("after restart the running task is %+v", failed)
		}
		t.Logf("after restart: %s", failed.ErrorMessage)
		if again := h.task(done.TaskID); again.Status != "completed" || again.OutputMessage != done.OutputMessage {
			t.Errorf("completed task after restart: %+v", again)
		}
		evs := h.taskEvents(id)
		if last := evs[len(evs)-1]; last.EventType != "task.failed" {
			t.Errorf("last event of the interrupted task: %+v", last)
		}

		h.waitRuntime(rt, "active")
		next := h.run(rt, "crash", "after the crash")
		// Claude may have stored the interrupted input in its session and
		// sends it with the next one; the answer ends with the new text.
		if !strings.HasPrefix(next.OutputMessage, "reply to: ") || !strings.HasSuffix(next.OutputMessage, "after the crash") {
			t.Errorf("after restart: %+v", next)
		}
		reqs := h.model.Requests()
		if last := reqs[len(reqs)-1].Body; !strings.Contains(last, "before the crash") {
			t.Error("the thread did not resume its conversation after the restart")
		}
	})
}
