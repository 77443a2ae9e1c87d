package ui

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fakeAPI is a small in-memory stand-in for the /v1 routes the UI uses,
// strict where the real API is strict (cookie auth, Idempotency-Key,
// unknown JSON fields) so the browser test catches a UI that cheats. It
// records what the UI sent so the test can assert on it.
type fakeAPI struct {
	password string
	stop     chan struct{} // closed to end open event streams

	mu        sync.Mutex
	sessions  map[string]bool
	keys      []string // every Idempotency-Key, in arrival order
	keyErrors []string // mutating requests with a missing/invalid/reused key
	tasks     map[string]*fakeTask
	taskOrder []string
	threads   map[string]string // thread id -> runtime
	events    []fakeEvent
	notify    chan struct{} // closed and replaced when an event is added
	netEvents []map[string]any
	policy    json.RawMessage
	policyPUT []string // raw bodies of PUT /v1/network/policy
	steers    []string
	kills     []string
	reboots   int
	codes     []string // Claude login codes pasted by the operator
	codex     string   // codex runtime status
	streams   int      // GET /v1/events/stream connections
	eventPoll int      // GET /v1/events calls
	netPoll   int      // GET /v1/network/events calls
	sawPass   bool
}

type fakeTask struct {
	ID, Status, Runtime, Thread, Input, Output, Error string
	Created, Updated                                  time.Time
}

type fakeEvent struct {
	Seq     int64
	Time    time.Time
	Type    string
	TaskID  string
	Payload map[string]any
}

var idemKey = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

const fakeCookie = "trustyclaw_session"

func newFakeAPI(password string) *fakeAPI {
	f := &fakeAPI{
		password: password,
		stop:     make(chan struct{}),
		sessions: map[string]bool{},
		tasks:    map[string]*fakeTask{},
		threads:  map[string]string{},
		notify:   make(chan struct{}),
		codex:    "awaiting_login",
		policy: json.RawMessage(`{"managed_ai_provider_network_access":{"openai":true,"claude":false},` +
			`"allowed_network_access":{"api.github.com":{"allow_http_methods":["GET","HEAD"],"path_guards":["^/repos/.*$"]}}}`),
	}
	f.netEvents = append(f.netEvents, map[string]any{
		"seq": 1, "timestamp": "2025-01-02T03:04:05Z", "protocol": "https", "method": "POST",
		"host": "evil.example", "port": 443, "path": "/<b>upload</b>", "query": "",
		"decision": "denied", "reason": "no rule for host evil.example",
	})
	return f
}

func (f *fakeAPI) handler(ui http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", ui)
	mux.Handle("GET "+AssetPrefix, ui)
	mux.HandleFunc("POST /v1/session", f.login)
	mux.HandleFunc("DELETE /v1/session", f.logout)
	mux.HandleFunc("GET /v1/health", f.health)
	mux.HandleFunc("GET /v1/agent-runtime/account", f.accounts)
	mux.HandleFunc("POST /v1/agent-runtime/codex-oauth-login", f.codexLogin)
	mux.HandleFunc("POST /v1/agent-runtime/claude-oauth-login", f.claudeLogin)
	mux.HandleFunc("POST /v1/agent-runtime/claude-oauth-login/complete", f.claudeComplete)
	mux.HandleFunc("GET /v1/threads", f.listThreads)
	mux.HandleFunc("GET /v1/threads/{id}/tasks", f.threadTasks)
	mux.HandleFunc("GET /v1/tasks", f.activeTasks)
	mux.HandleFunc("POST /v1/tasks", f.createTask)
	mux.HandleFunc("GET /v1/tasks/{id}", f.getTask)
	mux.HandleFunc("PUT /v1/tasks/{id}", f.editTask)
	mux.HandleFunc("POST /v1/tasks/{id}/steer", f.steer)
	mux.HandleFunc("POST /v1/tasks/{id}/kill", f.kill)
	mux.HandleFunc("GET /v1/tasks/{id}/events", f.taskEvents)
	mux.HandleFunc("GET /v1/events", f.listEvents)
	mux.HandleFunc("GET /v1/events/stream", f.eventStream)
	mux.HandleFunc("GET /v1/network/policy", f.getPolicy)
	mux.HandleFunc("PUT /v1/network/policy", f.putPolicy)
	mux.HandleFunc("POST /v1/network/policy/check", f.checkPolicy)
	// No GET /v1/network/events/stream: the UI must fall back to polling.
	mux.HandleFunc("GET /v1/network/events", f.listNetEvents)
	mux.HandleFunc("POST /v1/host-runtime/reboot", f.reboot)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "unknown route "+r.URL.Path)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			if r.Method != http.MethodGet && !f.checkKey(w, r) {
				return
			}
			if !(r.Method == http.MethodPost && r.URL.Path == "/v1/session") && !f.authed(r) {
				apiError(w, http.StatusUnauthorized, "missing or invalid credentials")
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

func (f *fakeAPI) checkKey(w http.ResponseWriter, r *http.Request) bool {
	k := r.Header.Get("Idempotency-Key")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !idemKey.MatchString(k):
		f.keyErrors = append(f.keyErrors, fmt.Sprintf("%s %s: invalid key %q", r.Method, r.URL.Path, k))
		apiError(w, http.StatusBadRequest, "Idempotency-Key: 1-128 chars of [A-Za-z0-9._:-] required")
		return false
	case slices.Contains(f.keys, k):
		f.keyErrors = append(f.keyErrors, fmt.Sprintf("%s %s: reused key %q", r.Method, r.URL.Path, k))
	}
	f.keys = append(f.keys, k)
	return true
}

func (f *fakeAPI) authed(r *http.Request) bool {
	c, err := r.Cookie(fakeCookie)
	if err != nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions[c.Value]
}

func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body strictly, as the real API does.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		apiError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}

func (f *fakeAPI) login(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Password string `json:"password"`
	}
	if !decode(w, r, &body) {
		return
	}
	if body.Password != f.password {
		apiError(w, http.StatusUnauthorized, "wrong password")
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	f.mu.Lock()
	f.sessions[tok] = true
	f.sawPass = true
	f.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: fakeCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (f *fakeAPI) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(fakeCookie); err == nil {
		f.mu.Lock()
		delete(f.sessions, c.Value)
		f.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: fakeCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (f *fakeAPI) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "ok", "agent_name": "test-agent",
		"agent_runtime": map[string]any{"runtimes": []map[string]any{
			{"type": "codex", "status": f.codexStatus(), "active_task_ids": f.running()},
			{"type": "claude_code", "status": "awaiting_login", "active_task_ids": []string{}},
		}},
		"network_controls": map[string]string{"status": "active"},
		"host_runtime": map[string]any{
			"cpu":    map[string]any{"usage_percent": 12.5},
			"memory": map[string]any{"used_bytes": 980000000, "total_bytes": 2147483648},
			"filesystem": map[string]any{"used_bytes": 6000000000, "total_bytes": 17179869184,
				"mounts": map[string]any{"root": map[string]any{"used_bytes": 6000000000, "total_bytes": 17179869184}}},
			"swap": map[string]any{"allocated_bytes": 6442450944, "used_bytes": 536870912},
		},
	})
}

func (f *fakeAPI) codexStatus() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.codex
}

const (
	fakeDeviceCode = "WXYZ-1234"
	fakeDeviceURL  = "https://auth.openai.com/codex/device"
)

func (f *fakeAPI) codexLogin(w http.ResponseWriter, _ *http.Request) {
	if f.codexStatus() != "awaiting_login" {
		apiError(w, http.StatusConflict, "codex is not awaiting login")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "awaiting_login", "device_code": fakeDeviceCode,
		"login_url": fakeDeviceURL, "expires_at": time.Now().Add(15 * time.Minute).UTC().Format(time.RFC3339)})
}

// finishCodexLogin is the operator finishing the device login in their
// own browser: the runtime turns active and says so in events.
func (f *fakeAPI) finishCodexLogin() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codex = "active"
	f.addEventLocked("agent_runtime.login_completed", "", map[string]any{"agent_runtime": "codex"})
	f.addEventLocked("agent_runtime.active", "", map[string]any{"agent_runtime": "codex"})
}

func (f *fakeAPI) running() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []string{}
	for _, id := range f.taskOrder {
		if f.tasks[id].Status == "running" {
			out = append(out, id)
		}
	}
	return out
}

func (f *fakeAPI) accounts(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"accounts": []map[string]any{
		{"agent_runtime": "codex", "provider": "openai", "status": "active", "account_id": "acct-123", "email": "ops@example.com"},
		{"agent_runtime": "claude_code", "provider": "claude", "status": "awaiting_login"},
	}})
}

const fakeClaudeURL = "https://claude.ai/oauth/authorize?code=true&state=abc"

func (f *fakeAPI) claudeLogin(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "awaiting_code", "login_url": fakeClaudeURL,
		"expires_at": time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339)})
}

func (f *fakeAPI) claudeComplete(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Code string `json:"code"`
	}
	if !decode(w, r, &body) {
		return
	}
	f.mu.Lock()
	f.codes = append(f.codes, body.Code)
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"status": "loading"})
}

func (t *fakeTask) json() map[string]any {
	m := map[string]any{
		"task_id": t.ID, "status": t.Status, "agent_runtime": t.Runtime, "thread_id": t.Thread,
		"input_message": t.Input, "created_at": t.Created.Format(time.RFC3339), "updated_at": t.Updated.Format(time.RFC3339),
	}
	if t.Status == "completed" {
		m["output_message"] = t.Output
	}
	if t.Status == "failed" {
		m["error_message"] = t.Error
	}
	return m
}

func (f *fakeAPI) listThreads(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []map[string]any{}
	for th, rt := range f.threads {
		count, last, active := 0, time.Time{}, []map[string]string{}
		for _, id := range f.taskOrder {
			t := f.tasks[id]
			if t.Thread != th {
				continue
			}
			count++
			if t.Updated.After(last) {
				last = t.Updated
			}
			if t.Status == "queued" || t.Status == "running" {
				active = append(active, map[string]string{"task_id": t.ID, "status": t.Status})
			}
		}
		out = append(out, map[string]any{"thread_id": th, "agent_runtime": rt, "last_used_at": last.Format(time.RFC3339),
			"active_tasks": active, "task_count": count})
	}
	writeJSON(w, http.StatusOK, map[string]any{"threads": out})
}

func (f *fakeAPI) threadTasks(w http.ResponseWriter, r *http.Request) {
	th := r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.threads[th]; !ok {
		apiError(w, http.StatusNotFound, "no such thread")
		return
	}
	out := []map[string]any{}
	for i := len(f.taskOrder) - 1; i >= 0; i-- { // newest first
		if t := f.tasks[f.taskOrder[i]]; t.Thread == th {
			out = append(out, t.json())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": out})
}

func (f *fakeAPI) activeTasks(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []map[string]any{}
	pos := 1
	for _, st := range []string{"running", "queued"} {
		for _, id := range f.taskOrder {
			if t := f.tasks[id]; t.Status == st {
				m := t.json()
				m["queue_position"] = 0
				if st == "queued" {
					m["queue_position"] = pos
					pos++
				}
				out = append(out, m)
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": out})
}

func (f *fakeAPI) createTask(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Runtime string `json:"agent_runtime"`
		Input   string `json:"input_message"`
		Thread  string `json:"thread_id"`
	}
	if !decode(w, r, &body) {
		return
	}
	if body.Runtime != "codex" && body.Runtime != "claude_code" {
		apiError(w, http.StatusBadRequest, "agent_runtime: use codex or claude_code")
		return
	}
	if !idemKey.MatchString(body.Thread) || body.Input == "" {
		apiError(w, http.StatusBadRequest, "thread_id or input_message invalid")
		return
	}
	f.mu.Lock()
	if rt, ok := f.threads[body.Thread]; ok && rt != body.Runtime {
		f.mu.Unlock()
		apiError(w, http.StatusConflict, "thread belongs to "+rt)
		return
	}
	f.threads[body.Thread] = body.Runtime
	now := time.Now().UTC()
	t := &fakeTask{ID: fmt.Sprintf("task-%d", len(f.taskOrder)+1), Status: "queued", Runtime: body.Runtime,
		Thread: body.Thread, Input: body.Input, Created: now, Updated: now}
	f.tasks[t.ID] = t
	f.taskOrder = append(f.taskOrder, t.ID)
	f.addEventLocked("task.message", t.ID, map[string]any{"message": body.Input, "source": "user"})
	out := t.json()
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (f *fakeAPI) task(w http.ResponseWriter, r *http.Request) *fakeTask {
	t := f.tasks[r.PathValue("id")]
	if t == nil {
		apiError(w, http.StatusNotFound, "no such task")
	}
	return t
}

func (f *fakeAPI) getTask(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t := f.task(w, r); t != nil {
		writeJSON(w, http.StatusOK, t.json())
	}
}

func (f *fakeAPI) editTask(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Input string `json:"input_message"`
	}
	if !decode(w, r, &body) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.task(w, r)
	if t == nil {
		return
	}
	if t.Status != "queued" {
		apiError(w, http.StatusConflict, "task is not queued")
		return
	}
	t.Input, t.Updated = body.Input, time.Now().UTC()
	writeJSON(w, http.StatusOK, t.json())
}

func (f *fakeAPI) steer(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Steer string `json:"steer_message"`
	}
	if !decode(w, r, &body) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.task(w, r)
	if t == nil {
		return
	}
	if t.Status != "running" {
		apiError(w, http.StatusConflict, "task is not running")
		return
	}
	f.steers = append(f.steers, body.Steer)
	f.addEventLocked("task.message", t.ID, map[string]any{"message": body.Steer, "source": "user"})
	writeJSON(w, http.StatusOK, map[string]string{"status": "accepted"})
}

func (f *fakeAPI) kill(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.task(w, r)
	if t == nil {
		return
	}
	if t.Status != "running" {
		apiError(w, http.StatusConflict, "task is not running")
		return
	}
	f.kills = append(f.kills, t.ID)
	t.Status, t.Updated = "cancelled", time.Now().UTC()
	f.addEventLocked("task.cancelled", t.ID, map[string]any{})
	writeJSON(w, http.StatusOK, map[string]string{"status": "accepted"})
}

// setStatus moves a task on as the orchestrator would, with its event.
func (f *fakeAPI) setStatus(id, status, output string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tasks[id]
	t.Status, t.Updated = status, time.Now().UTC()
	switch status {
	case "running":
		f.addEventLocked("task.started", id, map[string]any{})
	case "completed":
		t.Output = output
		f.addEventLocked("task.completed", id, map[string]any{})
	}
}

func (f *fakeAPI) addEvent(typ, taskID string, payload map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addEventLocked(typ, taskID, payload)
}

func (f *fakeAPI) addEventLocked(typ, taskID string, payload map[string]any) {
	f.events = append(f.events, fakeEvent{Seq: int64(len(f.events) + 1), Time: time.Now().UTC(), Type: typ, TaskID: taskID, Payload: payload})
	close(f.notify)
	f.notify = make(chan struct{})
}

func (e fakeEvent) json() map[string]any {
	var task any
	if e.TaskID != "" {
		task = e.TaskID
	}
	return map[string]any{"event_id": fmt.Sprintf("ev-%d", e.Seq), "seq": e.Seq, "timestamp": e.Time.Format(time.RFC3339Nano),
		"event_type": e.Type, "task_id": task, "payload": e.Payload}
}

// page reads since/limit as the real API does (limit 1..100, default 5).
func page(w http.ResponseWriter, r *http.Request) (since int64, limit int, ok bool) {
	q := r.URL.Query()
	limit = 5
	var err error
	if s := q.Get("since"); s != "" {
		if since, err = strconv.ParseInt(s, 10, 64); err != nil || since < 0 {
			apiError(w, http.StatusBadRequest, "since: not a sequence number")
			return 0, 0, false
		}
	}
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 100 {
			apiError(w, http.StatusBadRequest, "limit: 1..100")
			return 0, 0, false
		}
	}
	return since, limit, true
}

func (f *fakeAPI) eventsAfter(since int64, limit int, taskID string) []map[string]any {
	out := []map[string]any{}
	for _, e := range f.events {
		if e.Seq > since && (taskID == "" || e.TaskID == taskID) && len(out) < limit {
			out = append(out, e.json())
		}
	}
	return out
}

func (f *fakeAPI) listEvents(w http.ResponseWriter, r *http.Request) {
	since, limit, ok := page(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.eventPoll++
	writeJSON(w, http.StatusOK, map[string]any{"events": f.eventsAfter(since, limit, "")})
}

func (f *fakeAPI) taskEvents(w http.ResponseWriter, r *http.Request) {
	since, limit, ok := page(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.task(w, r) == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": f.eventsAfter(since, limit, r.PathValue("id"))})
}

// eventStream is the SSE feed: "id: <seq>", "event: <event_type>",
// "data: <event JSON>", as docs/admin-api.md describes.
func (f *fakeAPI) eventStream(w http.ResponseWriter, r *http.Request) {
	since, _, ok := page(w, r)
	if !ok {
		return
	}
	if id, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil && id > since {
		since = id
	}
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "retry: 500\n\n")
	f.mu.Lock()
	f.streams++
	f.mu.Unlock()
	for {
		f.mu.Lock()
		evs := f.eventsAfter(since, 100, "")
		wake := f.notify
		f.mu.Unlock()
		for _, e := range evs {
			data, _ := json.Marshal(e)
			since = e["seq"].(int64)
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", since, e["event_type"], data)
		}
		if fl != nil {
			fl.Flush()
		}
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		case <-f.stop:
			return
		}
	}
}

func (f *fakeAPI) getPolicy(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"network_controls": f.policy, "updated_at": "2025-01-02T03:04:05Z"})
}

func (f *fakeAPI) putPolicy(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	f.policyPUT = append(f.policyPUT, string(raw))
	f.mu.Unlock()
	var p struct {
		Managed map[string]bool            `json:"managed_ai_provider_network_access"`
		Allowed map[string]json.RawMessage `json:"allowed_network_access"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		apiError(w, http.StatusBadRequest, "policy is not valid JSON: "+err.Error())
		return
	}
	for k := range p.Allowed {
		if net.ParseIP(k) != nil {
			apiError(w, http.StatusBadRequest, fmt.Sprintf(`allowed_network_access[%q]: IP literals are not allowed; use a DNS name`, k))
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.policy = raw
	writeJSON(w, http.StatusOK, map[string]any{"network_controls": f.policy, "updated_at": time.Now().UTC().Format(time.RFC3339)})
}

func (f *fakeAPI) checkPolicy(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	}
	if !decode(w, r, &body) {
		return
	}
	if strings.Contains(body.URL, "api.github.com/repos/") && body.Method == "GET" {
		writeJSON(w, http.StatusOK, map[string]string{"decision": "allowed", "rule": "api.github.com"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"decision": "denied", "reason": "no rule matches " + body.URL})
}

func (f *fakeAPI) listNetEvents(w http.ResponseWriter, r *http.Request) {
	since, limit, ok := page(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.netPoll++
	out := []map[string]any{}
	for _, e := range f.netEvents {
		if int64(e["seq"].(int)) > since && len(out) < limit {
			out = append(out, e)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

func (f *fakeAPI) reboot(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	f.reboots++
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"status": "accepted"})
}

// snapshot runs fn under the lock, for assertions.
func (f *fakeAPI) snapshot(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}
