package adminapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

const idShape = "1-128 characters of A-Z a-z 0-9 . _ : -"

// callCtx bounds a service call. Mutations are detached from the client's
// connection: once started, a commit is not abandoned because the client
// hung up (its idempotency record must match what happened).
func callCtx(r *http.Request, mutation bool) (context.Context, context.CancelFunc) {
	ctx := r.Context()
	if mutation {
		ctx = context.WithoutCancel(ctx)
	}
	return context.WithTimeout(ctx, serviceCallTimeout)
}

// taskID validates the {id} path segment; a malformed id cannot name a
// task, so it is a 404.
func taskID(p params) (string, error) {
	id := p["id"]
	if !validKey(id) {
		return "", errorf(http.StatusNotFound, "no such task %q", truncate(id, 64))
	}
	return id, nil
}

func checkMessage(field, s string) error {
	if n := chars(s); n < 1 || n > tasks.MaxInputChars {
		return badRequest("%s must be 1 to 50,000 characters (got %d)", field, n)
	}
	return nil
}

// createTask: POST /v1/tasks {"agent_runtime","input_message","thread_id"}.
func (a *api) createTask(r *http.Request, _ params) (reply, error) {
	body, err := readBody(r)
	if err != nil {
		return reply{}, err
	}
	req, err := decodeCreateTask(body)
	if err != nil {
		return reply{}, err
	}
	ctx, cancel := mutationCtx(r, answerTask)
	defer cancel()
	t, err := a.cfg.Tasks.Create(ctx, req.runtime, req.threadID, req.input)
	if err != nil {
		return reply{}, err
	}
	return ok(taskView(t))
}

// mutationCtx bounds a task mutation and asks the store to commit the
// answer to the request's Idempotency-Key with the change (one commit
// instead of two). A mutation that committed is then never run again by a
// retry of its key, and the retry gets this answer, even if hostd died
// before sending it. serveIdempotent validated the key; its
// FinishIdempotent with the same answer is then a no-op.
func mutationCtx(r *http.Request, answer tasks.AnswerFunc) (context.Context, context.CancelFunc) {
	ctx, cancel := callCtx(r, true)
	return tasks.WithAnswer(ctx, r.Header.Get("Idempotency-Key"), answer), cancel
}

// answerTask and answerAccepted render a mutation's answer byte for byte
// as render does for ok(taskView(t)) and ok(accepted).
func answerTask(t tasks.Task) (int, []byte, error) { return answerJSON(taskView(t)) }

func answerAccepted(tasks.Task) (int, []byte, error) { return answerJSON(accepted) }

func answerJSON(body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, append(b, '\n'), nil
}

type createTaskRequest struct {
	runtime  agentrt.Type
	threadID string
	input    string
}

// decodeCreateTask decodes and validates a create body (pure; fuzzed).
func decodeCreateTask(body []byte) (createTaskRequest, error) {
	f, err := decodeFields(body, []string{"agent_runtime", "input_message", "thread_id"}, nil)
	if err != nil {
		return createTaskRequest{}, err
	}
	rt, known := agentrt.ParseType(f["agent_runtime"])
	if !known {
		return createTaskRequest{}, badRequest(`agent_runtime must be "codex" or "claude_code"`)
	}
	if !validKey(f["thread_id"]) {
		return createTaskRequest{}, badRequest("thread_id must be %s", idShape)
	}
	if err := checkMessage("input_message", f["input_message"]); err != nil {
		return createTaskRequest{}, err
	}
	return createTaskRequest{runtime: rt, threadID: f["thread_id"], input: f["input_message"]}, nil
}

// listTasks: GET /v1/tasks?last_seen_task_id=&limit= — running then queued.
func (a *api) listTasks(r *http.Request, _ params) (reply, error) {
	q := r.URL.Query()
	last := ""
	if q.Has("last_seen_task_id") {
		last = q.Get("last_seen_task_id")
		if !validKey(last) {
			return reply{}, badRequest("last_seen_task_id must be %s", idShape)
		}
	}
	limit, err := parseLimit(q)
	if err != nil {
		return reply{}, err
	}
	ctx, cancel := callCtx(r, false)
	defer cancel()
	list, err := a.cfg.Tasks.ListActive(ctx, last, limit)
	if err != nil {
		return reply{}, err
	}
	out := tasksJSON{Tasks: make([]taskJSON, 0, len(list))}
	for _, t := range list {
		out.Tasks = append(out.Tasks, listedTaskView(t))
	}
	return ok(out)
}

func (a *api) getTask(r *http.Request, p params) (reply, error) {
	id, err := taskID(p)
	if err != nil {
		return reply{}, err
	}
	ctx, cancel := callCtx(r, false)
	defer cancel()
	t, err := a.cfg.Tasks.Get(ctx, id)
	if err != nil {
		return reply{}, err
	}
	return ok(taskView(t))
}

// editTask: PUT /v1/tasks/{id} {"input_message"} — queued tasks only.
func (a *api) editTask(r *http.Request, p params) (reply, error) {
	id, err := taskID(p)
	if err != nil {
		return reply{}, err
	}
	body, err := readBody(r)
	if err != nil {
		return reply{}, err
	}
	input, err := decodeMessage(body, "input_message")
	if err != nil {
		return reply{}, err
	}
	ctx, cancel := mutationCtx(r, answerTask)
	defer cancel()
	t, err := a.cfg.Tasks.Edit(ctx, id, input)
	if err != nil {
		return reply{}, err
	}
	return ok(taskView(t))
}

// decodeMessage decodes a body of one required message field (pure;
// fuzzed).
func decodeMessage(body []byte, field string) (string, error) {
	f, err := decodeFields(body, []string{field}, nil)
	if err != nil {
		return "", err
	}
	if err := checkMessage(field, f[field]); err != nil {
		return "", err
	}
	return f[field], nil
}

// steerTask: POST /v1/tasks/{id}/steer {"steer_message"}.
func (a *api) steerTask(r *http.Request, p params) (reply, error) {
	id, err := taskID(p)
	if err != nil {
		return reply{}, err
	}
	body, err := readBody(r)
	if err != nil {
		return reply{}, err
	}
	text, err := decodeMessage(body, "steer_message")
	if err != nil {
		return reply{}, err
	}
	ctx, cancel := mutationCtx(r, answerAccepted)
	defer cancel()
	if err := a.cfg.Tasks.Steer(ctx, id, text); err != nil {
		return reply{}, err
	}
	return ok(accepted)
}

func (a *api) cancelTask(r *http.Request, p params) (reply, error) {
	return a.taskAction(r, p, a.cfg.Tasks.Cancel)
}

func (a *api) killTask(r *http.Request, p params) (reply, error) {
	return a.taskAction(r, p, a.cfg.Tasks.Kill)
}

func (a *api) taskAction(r *http.Request, p params, do func(context.Context, string) error) (reply, error) {
	id, err := taskID(p)
	if err != nil {
		return reply{}, err
	}
	if _, err := emptyBody(r); err != nil {
		return reply{}, err
	}
	ctx, cancel := mutationCtx(r, answerAccepted)
	defer cancel()
	if err := do(ctx, id); err != nil {
		return reply{}, err
	}
	return ok(accepted)
}

func (a *api) threads(r *http.Request, _ params) (reply, error) {
	ctx, cancel := callCtx(r, false)
	defer cancel()
	list, err := a.cfg.Tasks.Threads(ctx)
	if err != nil {
		return reply{}, err
	}
	out := threadsJSON{Threads: make([]threadJSON, 0, len(list))}
	for _, t := range list {
		out.Threads = append(out.Threads, threadView(t))
	}
	return ok(out)
}

func (a *api) threadTasks(r *http.Request, p params) (reply, error) {
	id := p["thread_id"]
	if !validKey(id) {
		return reply{}, errorf(http.StatusNotFound, "no such thread %q", truncate(id, 64))
	}
	ctx, cancel := callCtx(r, false)
	defer cancel()
	list, err := a.cfg.Tasks.ThreadTasks(ctx, id)
	if err != nil {
		return reply{}, err
	}
	out := tasksJSON{Tasks: make([]taskJSON, 0, len(list))}
	for _, t := range list {
		out.Tasks = append(out.Tasks, taskView(t))
	}
	return ok(out)
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
