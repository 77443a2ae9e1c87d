package adminapi_test

// Integration tests and benchmarks of the API over real HTTP against the
// real durable store, the real orchestrator (with the scripted fake
// runtime) and the real in-process proxy state.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/argon2"

	"github.com/trustyclaw/trustyclaw/hostd/adminapi"
	"github.com/trustyclaw/trustyclaw/hostd/adminapi/auth"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/fakert"
	"github.com/trustyclaw/trustyclaw/hostd/hostinfo"
	"github.com/trustyclaw/trustyclaw/hostd/orchestrator"
	"github.com/trustyclaw/trustyclaw/hostd/proxystate"
	"github.com/trustyclaw/trustyclaw/hostd/store"
	"github.com/trustyclaw/trustyclaw/hostd/store/adminstore"
)

const stackPassword = "stack-password"

// staticSupervisor reports fixed runtime states; the orchestrator claims
// only while a runtime is active.
type staticSupervisor struct {
	mu     sync.Mutex
	status agentrt.Status
}

func (s *staticSupervisor) get() agentrt.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *staticSupervisor) States() []agentrt.State {
	var out []agentrt.State
	for _, t := range agentrt.Types {
		out = append(out, s.State(t))
	}
	return out
}
func (s *staticSupervisor) State(t agentrt.Type) agentrt.State {
	return agentrt.State{Type: t, Status: s.get()}
}
func (s *staticSupervisor) Accounts(context.Context) []agentrt.AccountInfo { return nil }
func (s *staticSupervisor) StartLogin(context.Context, agentrt.Type) (agentrt.LoginInfo, error) {
	return agentrt.LoginInfo{}, agentrt.ErrLoginState
}
func (s *staticSupervisor) CurrentLogin(context.Context, agentrt.Type) (agentrt.LoginInfo, error) {
	return agentrt.LoginInfo{}, agentrt.ErrLoginState
}
func (s *staticSupervisor) CompleteLogin(context.Context, agentrt.Type, string) (agentrt.LoginInfo, error) {
	return agentrt.LoginInfo{}, agentrt.ErrLoginState
}
func (s *staticSupervisor) ProvidersChanged(context.Context, map[string]bool) {}

type stack struct {
	tb     testing.TB
	url    string
	client *http.Client
	codex  *fakert.Adapter
	orch   *orchestrator.Orchestrator
	st     *store.Store
	stop   context.CancelFunc
	done   chan struct{}
}

func cheapStackHash() string {
	h := auth.Hash{MemoryKiB: 64, Time: 1, Threads: 1, Salt: []byte("stack-test-salt!")}
	h.Key = argon2.IDKey([]byte(stackPassword), h.Salt, h.Time, h.MemoryKiB, h.Threads, 32)
	return h.String()
}

// newStack runs store + orchestrator + proxy state + API (through
// adminapi.Serve) on 127.0.0.1:0.
func newStack(tb testing.TB, status agentrt.Status) *stack {
	tb.Helper()
	dir := tb.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, filepath.Join(dir, "admin.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	codex, claude := fakert.New(agentrt.Codex), fakert.New(agentrt.ClaudeCode)
	sup := &staticSupervisor{status: status}
	orch, err := orchestrator.New(orchestrator.Config{
		Store: st, Adapters: []agentrt.Adapter{codex, claude}, Status: sup, Logger: zerolog.Nop(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	pdir := filepath.Join(dir, "proxy-state")
	if err := os.Mkdir(pdir, 0o700); err != nil {
		tb.Fatal(err)
	}
	evlog, err := proxystate.OpenEventLog(ctx, filepath.Join(pdir, proxystate.EventsFileName), proxystate.EventLogOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	netc := proxystate.NewLocalClient(proxystate.NewDir(pdir, nil), func() bool { return true }, evlog)
	authn, err := auth.New(auth.Config{PasswordHash: cheapStackHash()})
	if err != nil {
		tb.Fatal(err)
	}
	h := adminapi.New(adminapi.Config{
		AgentName: "stack", Tasks: orch, Runtimes: sup, Network: netc,
		Idempotency: adminstore.New(st), Sessions: adminstore.New(st), Auth: authn,
		Rebooter: adminapi.LocalRebooter{}, Context: ctx, Log: zerolog.Nop(),
		HostInfo: hostinfo.New(hostinfo.Config{Mounts: []hostinfo.Mount{{Name: "root", Path: "/"}, {Name: "admin", Path: dir}}}),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { _ = orch.Run(ctx) })
	wg.Go(func() {
		if err := adminapi.Serve(ctx, ln, h, zerolog.Nop()); err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	go func() { wg.Wait(); close(done) }()
	s := &stack{
		tb: tb, url: "http://" + ln.Addr().String(), codex: codex, orch: orch, st: st, stop: cancel, done: done,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
	tb.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			tb.Error("stack did not stop")
		}
		_ = evlog.Close()
		_ = st.Close()
	})
	return s
}

type result struct {
	status int
	body   []byte
	header http.Header
}

func (s *stack) do(method, path, body, key string) result {
	s.tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+stackPassword)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := s.client.Do(req)
	if err != nil {
		s.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return result{status: res.StatusCode, body: b, header: res.Header}
}

func (r result) obj(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("%v: %s", err, r.body)
	}
	return m
}

func TestStackTaskLifecycleAndEvents(t *testing.T) {
	s := newStack(t, agentrt.StatusActive)
	r := s.do("POST", "/v1/tasks", `{"agent_runtime":"codex","thread_id":"th","input_message":"hi there"}`, "k1")
	if r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.obj(t)["task_id"].(string)
	// Replay with the real store: same body, no second task.
	if r2 := s.do("POST", "/v1/tasks", `{"agent_runtime":"codex","thread_id":"th","input_message":"hi there"}`, "k1"); !bytes.Equal(r2.body, r.body) || r2.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s", r2.status, r2.body)
	}
	deadline := time.Now().Add(10 * time.Second)
	var task map[string]any
	for {
		task = s.do("GET", "/v1/tasks/"+id, "", "").obj(t)
		if task["status"] == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task did not complete: %v", task)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if task["output_message"] != "fake reply: hi there" {
		t.Fatalf("output %v", task["output_message"])
	}
	var page struct {
		Events []struct {
			Type    string          `json:"event_type"`
			TaskID  *string         `json:"task_id"`
			Payload json.RawMessage `json:"payload"`
		} `json:"events"`
	}
	_ = json.Unmarshal(s.do("GET", "/v1/tasks/"+id+"/events?limit=100", "", "").body, &page)
	var types []string
	for _, e := range page.Events {
		types = append(types, e.Type)
	}
	if strings.Join(types, ",") != "task.message,task.started,task.message,task.completed" {
		t.Fatalf("events %v", types)
	}
	var list struct {
		Tasks []any `json:"tasks"`
	}
	_ = json.Unmarshal(s.do("GET", "/v1/tasks", "", "").body, &list)
	if len(list.Tasks) != 0 {
		t.Fatalf("finished task still listed: %v", list.Tasks)
	}
	if r := s.do("POST", "/v1/tasks", `{"agent_runtime":"claude_code","thread_id":"th","input_message":"x"}`, "k2"); r.status != 409 {
		t.Fatalf("thread ownership: %d %s", r.status, r.body)
	}
	h := s.do("GET", "/v1/health", "", "").obj(t)
	if h["status"] != "ok" {
		t.Fatalf("health %v", h)
	}
	mounts := h["host_runtime"].(map[string]any)["filesystem"].(map[string]any)["mounts"].(map[string]any)
	if _, ok := mounts["admin"]; !ok {
		t.Fatalf("mounts %v", mounts)
	}
}

func TestStackKillRunningTaskAndStreamSeesIt(t *testing.T) {
	s := newStack(t, agentrt.StatusActive)
	s.codex.Push(fakert.Hanging())
	req, _ := http.NewRequest("GET", s.url+"/v1/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+stackPassword)
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		buf := make([]byte, 4096)
		var acc string
		for {
			n, err := res.Body.Read(buf)
			acc += string(buf[:n])
			for {
				i := strings.Index(acc, "\n")
				if i < 0 {
					break
				}
				lines <- acc[:i]
				acc = acc[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	id := s.do("POST", "/v1/tasks", `{"agent_runtime":"codex","thread_id":"k","input_message":"hang"}`, "c1").obj(t)["task_id"].(string)
	waitEvent := func(want string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("stream ended")
				}
				if l == "event: "+want {
					return
				}
			case <-timeout:
				t.Fatalf("no %s on the stream", want)
			}
		}
	}
	waitEvent("task.started")
	if r := s.do("POST", "/v1/tasks/"+id+"/steer", `{"steer_message":"go on"}`, "s1"); r.status != 200 {
		t.Fatalf("steer: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/v1/tasks/"+id+"/kill", "", "x1"); r.status != 200 {
		t.Fatalf("kill: %d %s", r.status, r.body)
	}
	waitEvent("task.cancelled")
	if st := s.do("GET", "/v1/tasks/"+id, "", "").obj(t)["status"]; st != "cancelled" {
		t.Fatalf("status %v", st)
	}
	if r := s.do("POST", "/v1/tasks/"+id+"/kill", "", "x2"); r.status != 409 {
		t.Fatalf("second kill: %d", r.status)
	}
	// Shutdown ends the stream.
	s.stop()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("stream did not end at shutdown")
		}
	}
}

func TestStackPolicyAndSession(t *testing.T) {
	s := newStack(t, agentrt.StatusAwaitingLogin)
	r := s.do("PUT", "/v1/network/policy", `{"allowed_network_access":{"api.github.com":{"allow_http_methods":["GET"]}}}`, "p1")
	if r.status != 200 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	r = s.do("PUT", "/v1/network/policy", `{"allowed_network_access":{"*.com":{"allow_http_methods":["GET"]}}}`, "p2")
	if r.status != 400 {
		t.Fatalf("invalid put: %d %s", r.status, r.body)
	}
	r = s.do("POST", "/v1/network/policy/check", `{"method":"GET","url":"https://api.github.com/x"}`, "c1")
	if m := r.obj(t); m["decision"] != "allowed" {
		t.Fatalf("check: %s", r.body)
	}
	// Session through the real store.
	req, _ := http.NewRequest("POST", s.url+"/v1/session", strings.NewReader(`{"password":"`+stackPassword+`"}`))
	req.Header.Set("Idempotency-Key", "login-1")
	res, err := s.client.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login: %v %v", err, res)
	}
	res.Body.Close()
	cookies := res.Cookies()
	req, _ = http.NewRequest("GET", s.url+"/v1/network/policy", nil)
	req.AddCookie(cookies[0])
	res, err = s.client.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("cookie auth: %v %v", err, res)
	}
	res.Body.Close()
}

func TestStackQueueCapIs409(t *testing.T) {
	s := newStack(t, agentrt.StatusAwaitingLogin) // nothing is claimed
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for c := range 16 {
		wg.Go(func() {
			for i := c; i < 1000; i += 16 {
				if _, err := s.orch.Create(context.Background(), agentrt.Codex, "cap", "x"); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	r := s.do("POST", "/v1/tasks", `{"agent_runtime":"codex","thread_id":"cap","input_message":"one too many"}`, "over")
	if r.status != 409 || !strings.Contains(string(r.body), `"message"`) {
		t.Fatalf("1,001st task: %d %s", r.status, r.body)
	}
	var page struct {
		Tasks []struct {
			QueuePosition int `json:"queue_position"`
		} `json:"tasks"`
	}
	_ = json.Unmarshal(s.do("GET", "/v1/tasks?limit=100", "", "").body, &page)
	if len(page.Tasks) != 100 || page.Tasks[0].QueuePosition != 1 || page.Tasks[99].QueuePosition != 100 {
		t.Fatalf("queue positions: %d tasks", len(page.Tasks))
	}
}
