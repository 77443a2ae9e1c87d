package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/internal/devproc"
	"github.com/trustyclaw/trustyclaw/hostd/internal/fakemodel"
)

// The model host name the CLIs are configured for; hostd dev maps it to
// the fake model server with --dev-upstream.
const modelHost = "model.e2e.test"

// Runtime types and their providers, as the admin API names them.
type runtime struct {
	name     string // agent_runtime
	provider string // managed_ai_provider_network_access key
	cli      string // CLI name in .cache/agent-clis
}

var (
	codexRT  = runtime{name: "codex", provider: "openai", cli: "codex"}
	claudeRT = runtime{name: "claude_code", provider: "claude", cli: "claude"}
	bothRTs  = []runtime{codexRT, claudeRT}
)

// providerHosts are the managed provider bundles' hosts. Every harness
// maps them to the fake model too, so nothing a CLI sends to them after
// the policy allows it can leave loopback.
var providerHosts = []string{"api.openai.com", "auth.openai.com", "chatgpt.com", "api.anthropic.com", "platform.claude.com"}

// defaultCodexConfig is the operator's own config.toml in the agent home:
// API-key auth against a custom provider at the model host (hostd never
// writes this file; the test plays the operator).
const defaultCodexConfig = `model = "e2e-model"
model_provider = "e2e"

[model_providers.e2e]
name = "E2E"
base_url = "https://` + modelHost + `/v1"
env_key = "E2E_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
`

// baseAgentEnv are the --agent-env values every test passes: API keys for
// the fake model and Claude's base URL.
var baseAgentEnv = []string{
	"E2E_API_KEY=sk-e2e-test",
	"ANTHROPIC_BASE_URL=https://" + modelHost,
	"ANTHROPIC_API_KEY=sk-ant-e2e-test",
	"CLAUDE_CODE_MAX_RETRIES=0",
}

// config of one hostd dev under test.
type config struct {
	// script answers model requests (default: echo the last user text).
	script func(fakemodel.Request) fakemodel.Reply
	// codexConfig replaces defaultCodexConfig.
	codexConfig string
	// files are extra files written into the agent home before start
	// (relative path → content).
	files map[string]string
	// names are extra host names mapped to the fake model (certificate
	// names and --dev-upstream entries).
	names []string
	// baseEnv replaces baseAgentEnv when not nil.
	baseEnv []string
	// agentEnv adds --agent-env values after the base ones.
	agentEnv []string
	// hostEnv is extra environment of hostd itself.
	hostEnv []string
}

// harness is one hostd dev subprocess plus its fake model server.
type harness struct {
	t         testing.TB
	model     *fakemodel.Server
	hostd     *devproc.Proc
	state     string
	opts      devproc.Options
	codexBin  string
	claudeBin string
}

func echo(r fakemodel.Request) fakemodel.Reply {
	return fakemodel.Reply{Text: "reply to: " + fakemodel.LastUserText(r.Body)}
}

// requireCLI skips the test when rt's pinned CLI is not installed.
func requireCLI(t testing.TB, rt runtime) string {
	t.Helper()
	bin, err := fakemodel.FindCLI(rt.cli)
	if err != nil {
		t.Skipf("real %s CLI not installed: %v (install with `make agent-clis`)", rt.cli, err)
	}
	return bin
}

// start runs a fake model server and a hostd dev wired to it with the
// real CLIs that are installed (the caller has required the ones it
// uses). Everything is stopped at test cleanup.
func start(t testing.TB, c config) *harness {
	t.Helper()
	if c.script == nil {
		c.script = echo
	}
	if c.codexConfig == "" {
		c.codexConfig = defaultCodexConfig
	}
	state := t.TempDir()
	c.names = append(append([]string(nil), providerHosts...), c.names...)
	model, err := fakemodel.StartNamed(state, c.names, c.script)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(model.Close)
	h := &harness{t: t, model: model, state: state}
	h.codexBin, _ = fakemodel.FindCLI("codex")
	h.claudeBin, _ = fakemodel.FindCLI("claude")

	files := map[string]string{".codex/config.toml": c.codexConfig}
	for k, v := range c.files {
		files[k] = v
	}
	for rel, content := range files {
		p := filepath.Join(state, "agent-home", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	args := []string{"--dev-upstream", modelHost + "=" + model.Addr, "--dev-upstream-ca", model.CAFile}
	for _, n := range c.names {
		args = append(args, "--dev-upstream", n+"="+model.Addr)
	}
	if h.codexBin != "" {
		args = append(args, "--codex-bin", h.codexBin)
	}
	if h.claudeBin != "" {
		args = append(args, "--claude-bin", h.claudeBin)
	}
	base := baseAgentEnv
	if c.baseEnv != nil {
		base = c.baseEnv
	}
	for _, e := range append(append([]string(nil), base...), c.agentEnv...) {
		args = append(args, "--agent-env", e)
	}
	h.opts = devproc.Options{StateDir: state, Args: args, Env: c.hostEnv}
	h.startHostd()
	return h
}

// startHostd (re)starts hostd dev on the harness state dir. At cleanup it
// is stopped with SIGTERM and any agent process it left is killed.
func (h *harness) startHostd() {
	h.t.Helper()
	h.hostd = devproc.Start(h.t, h.opts)
	h.opts.Password = h.hostd.Password
	p := h.hostd
	h.t.Cleanup(func() {
		left := descendants(p.PID())
		_ = p.Stop()
		killLeftovers(h.t, left)
	})
}

// restartClean stops hostd with SIGTERM (running turns stop, warm
// app-servers close) and starts it again on the same state dir.
func (h *harness) restartClean() {
	h.t.Helper()
	left := descendants(h.hostd.PID())
	if err := h.hostd.Stop(); err != nil {
		h.t.Fatalf("hostd did not stop cleanly: %v\n%s", err, tail(h.hostd.Output(), 4000))
	}
	killLeftovers(h.t, left)
	h.startHostd()
}

// restartHard SIGKILLs hostd (as a crash would) and starts it again on
// the same state dir. The agent processes it leaves behind must end by
// themselves (stdin closed, proxy gone) within orphanGrace; any that do
// not fail the test and are killed.
func (h *harness) restartHard() {
	h.t.Helper()
	left := descendants(h.hostd.PID())
	h.hostd.Kill()
	start := time.Now()
	for time.Since(start) < orphanGrace && len(alive(left)) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	if still := alive(left); len(still) > 0 {
		h.t.Errorf("%d agent processes outlived a killed hostd by %v", len(still), orphanGrace)
		killLeftovers(h.t, still)
	} else if len(left) > 0 {
		h.t.Logf("%d agent processes ended %v after hostd was killed", len(left), time.Since(start).Round(10*time.Millisecond))
	}
	h.startHostd()
}

// orphanGrace bounds how long an agent process may outlive a killed hostd.
const orphanGrace = 15 * time.Second

// alive returns the processes of a snapshot that still run.
func alive(ps []proc) []proc {
	var out []proc
	for _, p := range ps {
		if now, ok := readProc(p.pid); ok && now.start == p.start && now.state != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// do sends an API request and decodes a 2xx JSON answer into out
// (when not nil); any other status fails the test.
func (h *harness) do(method, path string, body, out any) {
	h.t.Helper()
	st, data := h.call(method, path, body)
	if st/100 != 2 {
		h.t.Fatalf("%s %s: %d %s", method, path, st, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
}

// call sends an API request and returns status and body.
func (h *harness) call(method, path string, body any) (int, []byte) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, data, err := h.hostd.Do(ctx, method, path, body)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	return st, data
}

// policy is the operator-facing network policy body.
func policyBody(providers map[string]bool, hosts ...string) map[string]any {
	allowed := map[string]any{}
	for _, host := range hosts {
		allowed[host] = map[string]any{"allow_http_methods": []string{"GET", "HEAD", "POST"}}
	}
	return map[string]any{
		"managed_ai_provider_network_access": providers,
		"allowed_network_access":             allowed,
	}
}

// setPolicy replaces the network policy.
func (h *harness) setPolicy(providers map[string]bool, hosts ...string) {
	h.t.Helper()
	h.do(http.MethodPut, "/v1/network/policy", policyBody(providers, hosts...), nil)
}

// open turns rt's provider on, allows the model host and waits until rt
// is active.
func (h *harness) open(rts ...runtime) {
	h.t.Helper()
	providers := map[string]bool{}
	for _, rt := range rts {
		providers[rt.provider] = true
	}
	h.setPolicy(providers, modelHost)
	for _, rt := range rts {
		h.waitRuntime(rt, "active")
	}
}

// runtimeStatus returns rt's entry of GET /v1/agent-runtime/status.
func (h *harness) runtimeStatus(rt runtime) runtimeJSON {
	h.t.Helper()
	var st struct {
		Runtimes []runtimeJSON `json:"runtimes"`
	}
	h.do(http.MethodGet, "/v1/agent-runtime/status", nil, &st)
	for _, r := range st.Runtimes {
		if r.Type == rt.name {
			return r
		}
	}
	h.t.Fatalf("runtime %s not in status %+v", rt.name, st)
	return runtimeJSON{}
}

type runtimeJSON struct {
	Type          string   `json:"type"`
	Status        string   `json:"status"`
	ActiveTaskIDs []string `json:"active_task_ids"`
	ErrorMessage  string   `json:"error_message"`
}

func (h *harness) waitRuntime(rt runtime, status string) {
	h.t.Helper()
	var last runtimeJSON
	h.eventually(90*time.Second, func() bool {
		last = h.runtimeStatus(rt)
		return last.Status == status
	}, func() string { return fmt.Sprintf("runtime %s is %+v, want %s", rt.name, last, status) })
}

type taskJSON struct {
	TaskID        string `json:"task_id"`
	Status        string `json:"status"`
	AgentRuntime  string `json:"agent_runtime"`
	ThreadID      string `json:"thread_id"`
	InputMessage  string `json:"input_message"`
	OutputMessage string `json:"output_message"`
	ErrorMessage  string `json:"error_message"`
}

// create hands a task to the API and returns its id.
func (h *harness) create(rt runtime, thread, input string) string {
	h.t.Helper()
	var task taskJSON
	h.do(http.MethodPost, "/v1/tasks", map[string]string{"agent_runtime": rt.name, "thread_id": thread, "input_message": input}, &task)
	if task.TaskID == "" || task.Status != "queued" && task.Status != "running" {
		h.t.Fatalf("created task %+v", task)
	}
	return task.TaskID
}

func (h *harness) task(id string) taskJSON {
	h.t.Helper()
	var task taskJSON
	h.do(http.MethodGet, "/v1/tasks/"+url.PathEscape(id), nil, &task)
	return task
}

var terminal = map[string]bool{"completed": true, "failed": true, "cancelled": true}

// waitTask waits until the task reaches status; reaching another final
// status first fails the test.
func (h *harness) waitTask(id, status string) taskJSON {
	h.t.Helper()
	var last taskJSON
	h.eventually(120*time.Second, func() bool {
		last = h.task(id)
		if last.Status != status && terminal[last.Status] {
			h.t.Fatalf("task %s ended %s (want %s): %+v\nhostd output:\n%s", id, last.Status, status, last, tail(h.hostd.Output(), 4000))
		}
		return last.Status == status
	}, func() string { return fmt.Sprintf("task %s is %+v, want %s", id, last, status) })
	return last
}

// run creates a task and waits until it completed; it returns the task.
func (h *harness) run(rt runtime, thread, input string) taskJSON {
	h.t.Helper()
	return h.waitTask(h.create(rt, thread, input), "completed")
}

type eventJSON struct {
	Seq       int64           `json:"seq"`
	EventType string          `json:"event_type"`
	TaskID    *string         `json:"task_id"`
	Payload   json.RawMessage `json:"payload"`
}

type messagePayload struct {
	Message string `json:"message"`
	Source  string `json:"source"`
}

func (e eventJSON) message() messagePayload {
	var m messagePayload
	_ = json.Unmarshal(e.Payload, &m)
	return m
}

// events pages through an event route (path without query) from the
// start.
func (h *harness) events(path string) []eventJSON {
	h.t.Helper()
	var all []eventJSON
	since := int64(0)
	for {
		var page struct {
			Events []eventJSON `json:"events"`
		}
		h.do(http.MethodGet, path+"?limit=100&since="+strconv.FormatInt(since, 10), nil, &page)
		all = append(all, page.Events...)
		if len(page.Events) < 100 {
			return all
		}
		since = page.Events[len(page.Events)-1].Seq
	}
}

func (h *harness) taskEvents(id string) []eventJSON {
	return h.events("/v1/tasks/" + url.PathEscape(id) + "/events")
}

type netEventJSON struct {
	Seq      int64  `json:"seq"`
	Protocol string `json:"protocol"`
	Method   string `json:"method"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Path     string `json:"path"`
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
}

func (h *harness) networkEvents() []netEventJSON {
	h.t.Helper()
	var all []netEventJSON
	since := int64(0)
	for {
		var page struct {
			Events []netEventJSON `json:"events"`
		}
		h.do(http.MethodGet, "/v1/network/events?limit=100&since="+strconv.FormatInt(since, 10), nil, &page)
		all = append(all, page.Events...)
		if len(page.Events) < 100 {
			return all
		}
		since = page.Events[len(page.Events)-1].Seq
	}
}

// waitModelRequests waits until the fake model has received n requests.
func (h *harness) waitModelRequests(n int) []fakemodel.Request {
	h.t.Helper()
	var reqs []fakemodel.Request
	h.eventually(90*time.Second, func() bool {
		reqs = h.model.Requests()
		return len(reqs) >= n
	}, func() string {
		return fmt.Sprintf("fake model saw %d requests, want %d\nhostd output:\n%s", len(reqs), n, tail(h.hostd.Output(), 4000))
	})
	return reqs
}

// eventually polls cond every 25 ms until it holds or the timeout passes.
func (h *harness) eventually(timeout time.Duration, cond func() bool, msg func() string) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("after %v: %s", timeout, msg())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// forEach runs fn as a parallel subtest per runtime whose CLI is
// installed (the others skip with the reason).
func forEach(t *testing.T, rts []runtime, fn func(t *testing.T, rt runtime)) {
	t.Parallel()
	for _, rt := range rts {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			requireCLI(t, rt)
			fn(t, rt)
		})
	}
}

// gate holds model requests until it is opened (or a timeout passes, so
// a failing test cannot hang the fake server).
type gate chan struct{}

func newGate() gate { return make(gate) }

func (g gate) open() {
	select {
	case <-g:
	default:
		close(g)
	}
}

func (g gate) wait(d time.Duration) {
	select {
	case <-g:
	case <-time.After(d):
	}
}

// --- processes -------------------------------------------------------

// proc is one process seen under /proc.
type proc struct {
	pid     int
	ppid    int
	state   string
	start   string // start time in clock ticks (field 22): tells PID reuse apart
	cmdline string
}

func readProc(pid int) (proc, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return proc{}, false
	}
	f := strings.Fields(s[i+1:]) // state ppid pgrp … (field 3 onwards)
	if len(f) < 20 {
		return proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return proc{pid: pid, ppid: ppid, state: f[0], start: f[19], cmdline: strings.ReplaceAll(string(cmd), "\x00", " ")}, true
}

// descendants lists every process below pid (children, grandchildren …).
func descendants(pid int) []proc {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]proc{}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(n); ok {
			children[p.ppid] = append(children[p.ppid], p)
		}
	}
	var out []proc
	queue := []int{pid}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range children[cur] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out
}

// killLeftovers SIGKILLs processes from an earlier descendants snapshot
// that still run (same pid and start time: never a reused pid).
func killLeftovers(t testing.TB, ps []proc) {
	for _, p := range ps {
		if now, ok := readProc(p.pid); ok && now.start == p.start {
			if strings.Contains(now.cmdline, "codex") || strings.Contains(now.cmdline, "claude") || strings.Contains(now.cmdline, "node") {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
				t.Logf("killed leftover agent process %d: %s", p.pid, now.cmdline)
			}
		}
	}
}
