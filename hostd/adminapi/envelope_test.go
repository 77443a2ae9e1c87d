package adminapi

import (
	"net/http"
	"strings"
	"testing"
)

func TestUnknownRouteIs404Envelope(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/v1/nope", "/v1/tasks/", "/v1//tasks", "/v1/tasks/a/b/c", "/v1", "/v1/tasks/x/steer/"} {
		r := h.do("GET", p, "")
		mustStatus(t, r, http.StatusNotFound)
		r.errMsg(t)
	}
	// Without a UI, / is a 404 too.
	r := h.do("GET", "/", "")
	mustStatus(t, r, http.StatusNotFound)
	r.errMsg(t)
}

func TestWrongMethodIs405WithAllow(t *testing.T) {
	h := newHarness(t)
	cases := map[string]string{
		"DELETE /v1/tasks":                        "GET, POST",
		"PATCH /v1/tasks/task_1":                  "GET, PUT",
		"GET /v1/tasks/task_1/steer":              "POST",
		"POST /v1/health":                         "GET",
		"HEAD /v1/health":                         "GET",
		"POST /v1/network/policy":                 "GET, PUT",
		"GET /v1/host-runtime/reboot":             "POST",
		"PUT /v1/agent-runtime/codex-oauth-login": "GET, POST",
	}
	for req, allow := range cases {
		m, p, _ := strings.Cut(req, " ")
		r := h.do(m, p, "")
		if r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d, want 405", req, r.status)
			continue
		}
		if got := r.header.Get("Allow"); got != allow {
			t.Errorf("%s: Allow %q, want %q", req, got, allow)
		}
		if m != "HEAD" {
			r.errMsg(t)
		}
	}
}

func TestBodyOver1MiBIs413(t *testing.T) {
	h := newHarness(t)
	big := `{"agent_runtime":"codex","thread_id":"t","input_message":"` + strings.Repeat("a", 1<<20) + `"}`
	r := h.do("POST", "/v1/tasks", big)
	mustStatus(t, r, http.StatusRequestEntityTooLarge)
	r.errMsg(t)
	// Chunked (no Content-Length) is cut off while reading.
	r = h.do("POST", "/v1/tasks", big, func(r *http.Request) { r.ContentLength = -1 })
	mustStatus(t, r, http.StatusRequestEntityTooLarge)
	r = h.do("PUT", "/v1/network/policy", `{"allowed_network_access":{"a.com":{"allow_http_methods":["GET"],"path_guards":["`+strings.Repeat("a", 1<<20)+`"]}}}`)
	mustStatus(t, r, http.StatusRequestEntityTooLarge)
	if h.tasks.called("Create") != 0 {
		t.Fatal("oversized body reached the service")
	}
}

func TestStrictBodyDecoding(t *testing.T) {
	h := newHarness(t)
	cases := map[string]string{
		"unknown field":    `{"agent_runtime":"codex","thread_id":"t","input_message":"x","priority":1}`,
		"case-folded name": `{"Agent_Runtime":"codex","thread_id":"t","input_message":"x"}`,
		"duplicate field":  `{"agent_runtime":"codex","agent_runtime":"claude_code","thread_id":"t","input_message":"x"}`,
		"trailing garbage": `{"agent_runtime":"codex","thread_id":"t","input_message":"x"} x`,
		"two objects":      `{"agent_runtime":"codex","thread_id":"t","input_message":"x"}{}`,
		"not an object":    `["codex"]`,
		"null body":        `null`,
		"wrong type":       `{"agent_runtime":"codex","thread_id":5,"input_message":"x"}`,
		"null field":       `{"agent_runtime":"codex","thread_id":null,"input_message":"x"}`,
		"object field":     `{"agent_runtime":"codex","thread_id":{},"input_message":"x"}`,
		"missing field":    `{"agent_runtime":"codex","thread_id":"t"}`,
		"malformed":        `{"agent_runtime":"codex",`,
		"empty":            ``,
		"bad runtime":      `{"agent_runtime":"gpt","thread_id":"t","input_message":"x"}`,
		"bad thread id":    `{"agent_runtime":"codex","thread_id":"a b","input_message":"x"}`,
		"long thread id":   `{"agent_runtime":"codex","thread_id":"` + strings.Repeat("t", 129) + `","input_message":"x"}`,
		"empty input":      `{"agent_runtime":"codex","thread_id":"t","input_message":""}`,
		"too long input":   `{"agent_runtime":"codex","thread_id":"t","input_message":"` + strings.Repeat("x", 50001) + `"}`,
		"invalid utf-8":    "{\"agent_runtime\":\"codex\",\"thread_id\":\"t\",\"input_message\":\"\xff\"}",
	}
	for name, body := range cases {
		r := h.do("POST", "/v1/tasks", body)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", name, r.status, r.body)
			continue
		}
		r.errMsg(t)
	}
	if h.tasks.called("Create") != 0 {
		t.Fatal("a bad body reached the service")
	}
	// Field-naming messages.
	want := map[string]string{
		`{"agent_runtime":"codex","thread_id":5,"input_message":"x"}`:           `"thread_id" must be a string`,
		`{"agent_runtime":"codex","thread_id":"t","input_message":"x","x":1}`:   `unknown field "x"`,
		`{"agent_runtime":"codex","thread_id":"t"}`:                             `missing field "input_message"`,
		`{"agent_runtime":"codex","thread_id":"t","input_message":"x"} {"a":1}`: "after the JSON object",
	}
	for body, frag := range want {
		if msg := h.do("POST", "/v1/tasks", body).errMsg(t); !strings.Contains(msg, frag) {
			t.Errorf("body %s: message %q lacks %q", body, msg, frag)
		}
	}
	// 50,000 characters (not bytes) are fine.
	ok := `{"agent_runtime":"codex","thread_id":"t","input_message":"` + strings.Repeat("é", 50000) + `"}`
	mustStatus(t, h.do("POST", "/v1/tasks", ok), http.StatusOK)
}

func TestQueryParametersAreValidated(t *testing.T) {
	h := newHarness(t)
	bad := []string{
		"/v1/events?since=-1", "/v1/events?since=abc", "/v1/events?since=", "/v1/events?since=1.5",
		"/v1/events?since=99999999999999999999", "/v1/events?limit=0", "/v1/events?limit=101",
		"/v1/events?limit=x", "/v1/events?limit=+5", "/v1/events?since=1&since=2", "/v1/events?foo=1",
		"/v1/tasks?limit=0", "/v1/tasks?last_seen_task_id=", "/v1/tasks?last_seen_task_id=a%20b",
		"/v1/tasks?since=1", "/v1/agent-runtime/account?runtime=codex", "/v1/health?x=1",
		"/v1/network/events?limit=1000", "/v1/events?a=1;b=2", "/v1/events/stream?since=-5",
		"/v1/threads?limit=5",
	}
	for _, p := range bad {
		r := h.do("GET", p, "")
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", p, r.status)
			continue
		}
		r.errMsg(t)
	}
	for _, p := range []string{"/v1/events?since=0&limit=1", "/v1/events?limit=100", "/v1/network/events?since=3"} {
		mustStatus(t, h.do("GET", p, ""), http.StatusOK)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/v1/health", "")
	for k, want := range map[string]string{
		"Content-Type":           "application/json; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestServiceFailureIs500WithoutDetail(t *testing.T) {
	h := newHarness(t)
	h.tasks.failWith = errSecretDetail
	r := h.do("GET", "/v1/tasks", "")
	mustStatus(t, r, http.StatusInternalServerError)
	msg := r.errMsg(t)
	if strings.Contains(msg, "sqlite") {
		t.Fatalf("500 leaks detail: %q", msg)
	}
	if !strings.Contains(msg, r.header.Get("X-Request-Id")) {
		t.Fatalf("500 message %q does not name the request id", msg)
	}
	if !strings.Contains(h.logs.String(), "sqlite") {
		t.Fatal("the detail is not in the log")
	}
}

var errSecretDetail = &detailErr{"sqlite: disk I/O error at /var/lib/x"}

type detailErr struct{ s string }

func (e *detailErr) Error() string { return e.s }
