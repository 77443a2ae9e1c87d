package adminapi

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const createBody = `{"agent_runtime":"codex","thread_id":"t1","input_message":"hello"}`

func TestIdempotentReplayReturnsFirstResponseWithoutRunningAgain(t *testing.T) {
	h := newHarness(t)
	first := h.do("POST", "/v1/tasks", createBody, withKey("create-1"))
	mustStatus(t, first, http.StatusOK)
	again := h.do("POST", "/v1/tasks", createBody, withKey("create-1"))
	mustStatus(t, again, http.StatusOK)
	if string(again.body) != string(first.body) {
		t.Fatalf("replay body differs:\n%s\n%s", first.body, again.body)
	}
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("replay not marked")
	}
	if n := h.tasks.called("Create"); n != 1 {
		t.Fatalf("Create ran %d times, want 1", n)
	}
	// Even with another body the key replays (the key names the request).
	other := h.do("POST", "/v1/tasks", `{"agent_runtime":"codex","thread_id":"t2","input_message":"x"}`, withKey("create-1"))
	if string(other.body) != string(first.body) {
		t.Fatal("same key with another body did not replay the first response")
	}
}

func TestIdempotencyKeyWithAnotherMethodOrPathIs400(t *testing.T) {
	h := newHarness(t)
	id := h.createTask("codex", "t1", "hello")
	mustStatus(t, h.do("POST", "/v1/tasks", createBody, withKey("k1")), http.StatusOK)
	r := h.do("POST", "/v1/tasks/"+id+"/cancel", "", withKey("k1"))
	mustStatus(t, r, http.StatusBadRequest)
	if msg := r.errMsg(t); !strings.Contains(msg, "POST /v1/tasks") {
		t.Fatalf("message %q does not name the first use", msg)
	}
	r = h.do("PUT", "/v1/tasks", createBody, withKey("k1"))
	mustStatus(t, r, http.StatusMethodNotAllowed) // route check comes first
	r = h.do("PUT", "/v1/tasks/"+id, `{"input_message":"x"}`, withKey("k1"))
	mustStatus(t, r, http.StatusBadRequest)
	if h.tasks.called("Cancel")+h.tasks.called("Edit") != 0 {
		t.Fatal("a mismatched key ran the handler")
	}
}

func TestReplayWhileFirstIsRunningIs409(t *testing.T) {
	h := newHarness(t)
	release := h.tasks.block("Create")
	defer release()
	var wg sync.WaitGroup
	wg.Add(1)
	var first resp
	go func() {
		defer wg.Done()
		first = h.do("POST", "/v1/tasks", createBody, withKey("slow"))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for h.tasks.called("Create") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("first request never reached Create")
		}
		time.Sleep(time.Millisecond)
	}
	r := h.do("POST", "/v1/tasks", createBody, withKey("slow"))
	mustStatus(t, r, http.StatusConflict)
	r.errMsg(t)
	release()
	wg.Wait()
	mustStatus(t, first, http.StatusOK)
	mustStatus(t, h.do("POST", "/v1/tasks", createBody, withKey("slow")), http.StatusOK)
	if n := h.tasks.called("Create"); n != 1 {
		t.Fatalf("Create ran %d times", n)
	}
}

func TestReplayWindowIs24Hours(t *testing.T) {
	h := newHarness(t)
	mustStatus(t, h.do("POST", "/v1/tasks", createBody, withKey("day")), http.StatusOK)
	h.clock.Advance(24*time.Hour - time.Second)
	h.do("POST", "/v1/tasks", createBody, withKey("day"))
	if n := h.tasks.called("Create"); n != 1 {
		t.Fatalf("replayed within 24 h ran Create %d times", n)
	}
	h.clock.Advance(2 * time.Second)
	h.do("POST", "/v1/tasks", createBody, withKey("day"))
	if n := h.tasks.called("Create"); n != 2 {
		t.Fatalf("after 24 h Create ran %d times, want 2", n)
	}
}

func TestMissingOrInvalidIdempotencyKeyIs400(t *testing.T) {
	h := newHarness(t)
	id := h.createTask("codex", "t1", "hi")
	bad := []reqMod{
		withoutKey(), withKey(""), withKey("has space"), withKey(strings.Repeat("a", 129)), withKey("ümlaut"),
		withKey("semi;colon"), withKey("slash/"), withHeader("Idempotency-Key", "second"),
	}
	for i, mod := range bad {
		for _, req := range []struct{ method, path, body string }{
			{"POST", "/v1/tasks", createBody},
			{"PUT", "/v1/tasks/" + id, `{"input_message":"x"}`},
			{"POST", "/v1/tasks/" + id + "/cancel", ""},
			{"DELETE", "/v1/session", ""},
			{"PUT", "/v1/network/policy", `{"allowed_network_access":{}}`},
		} {
			r := h.do(req.method, req.path, req.body, mod)
			if r.status != http.StatusBadRequest {
				t.Errorf("case %d %s %s: status %d, want 400", i, req.method, req.path, r.status)
				continue
			}
			r.errMsg(t)
		}
	}
	if h.tasks.called("Create") != 1 || h.tasks.called("Edit")+h.tasks.called("Cancel") != 0 {
		t.Fatal("a request without a valid key reached the service")
	}
	// The longest valid key and every allowed character work.
	mustStatus(t, h.do("POST", "/v1/tasks", createBody, withKey(strings.Repeat("aZ09._:-", 16))), http.StatusOK)
}

// A 400 means nothing happened: the key is not burnt, so the client can
// fix the body and retry with the same key.
func TestRejectedBodyDoesNotBurnTheKey(t *testing.T) {
	h := newHarness(t)
	mustStatus(t, h.do("POST", "/v1/tasks", `{"agent_runtime":"codex"}`, withKey("fixme")), http.StatusBadRequest)
	if _, ok := h.idem.get("fixme"); ok {
		t.Fatal("a rejected request left an idempotency record")
	}
	mustStatus(t, h.do("POST", "/v1/tasks", createBody, withKey("fixme")), http.StatusOK)
	// A 409 is the first response and is replayed.
	h.sup.set("codex", "active", "")
	r1 := h.do("POST", "/v1/tasks", `{"agent_runtime":"claude_code","thread_id":"t1","input_message":"x"}`, withKey("conflict"))
	mustStatus(t, r1, http.StatusConflict)
	r2 := h.do("POST", "/v1/tasks", `{"agent_runtime":"claude_code","thread_id":"t1","input_message":"x"}`, withKey("conflict"))
	mustStatus(t, r2, http.StatusConflict)
	if r2.header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("409 not replayed")
	}
}

func TestIdempotencyKeyScopeIsGlobal(t *testing.T) {
	h := newHarness(t)
	mustStatus(t, h.do("POST", "/v1/tasks", createBody, withKey("shared")), http.StatusOK)
	// Another credential (a browser session) using the same key still
	// replays the same first response: the key space is global.
	c := login(t, h)
	r := h.do("POST", "/v1/tasks", createBody, withKey("shared"), withCookie(c))
	mustStatus(t, r, http.StatusOK)
	if r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("key is not global")
	}
}
