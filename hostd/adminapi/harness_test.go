package adminapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/argon2"

	"github.com/trustyclaw/trustyclaw/hostd/adminapi/auth"
)

const testPassword = "correct horse battery staple"

var (
	testHashOnce sync.Once
	testHash     string
)

// cheapHash is an argon2id hash of testPassword with tiny parameters, so
// each test does not pay the production KDF cost.
func cheapHash() string {
	testHashOnce.Do(func() {
		h := auth.Hash{MemoryKiB: 64, Time: 1, Threads: 1, Salt: []byte("fixed-test-salt!")}
		h.Key = argon2.IDKey([]byte(testPassword), h.Salt, h.Time, h.MemoryKiB, h.Threads, 32)
		testHash = h.String()
	})
	return testHash
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type harness struct {
	t      *testing.T
	clock  *fakeClock
	tasks  *fakeTasks
	sup    *fakeSupervisor
	net    *fakeNetwork
	idem   *memIdempotency
	sess   *memSessions
	reboot *fakeRebooter
	logs   *syncBuffer
	srv    *httptest.Server
	stop   context.CancelFunc
	client *http.Client
}

// newHarness serves the API over real HTTP on 127.0.0.1:0 with fakes
// behind it. mods adjust the Config before New.
func newHarness(t *testing.T, mods ...func(*Config)) *harness {
	t.Helper()
	clock := newFakeClock()
	h := &harness{
		t: t, clock: clock, tasks: newFakeTasks(clock), sup: newFakeSupervisor(),
		net: newFakeNetwork(clock), idem: newMemIdempotency(), sess: newMemSessions(),
		reboot: &fakeRebooter{}, logs: &syncBuffer{},
	}
	authn, err := auth.New(auth.Config{PasswordHash: cheapHash(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	cfg := Config{
		AgentName: "test-agent", Tasks: h.tasks, Runtimes: h.sup, Network: h.net,
		Idempotency: h.idem, Sessions: h.sess, Auth: authn, Rebooter: h.reboot,
		Log: zerolog.New(h.logs), Now: clock.Now, Context: ctx,
		Heartbeat: time.Hour, NetworkPoll: 10 * time.Millisecond,
	}
	for _, m := range mods {
		m(&cfg)
	}
	h.srv = httptest.NewServer(New(cfg))
	h.client = h.srv.Client()
	t.Cleanup(func() {
		cancel()
		h.srv.Close()
	})
	return h
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body as an object.
func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// errMsg checks the body is exactly the error envelope and returns its
// message.
func (r resp) errMsg(t *testing.T) string {
	t.Helper()
	var env map[string]map[string]string
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		t.Fatalf("status %d body is not the error envelope: %v: %s", r.status, err, r.body)
	}
	if len(env) != 1 || len(env["error"]) != 1 || env["error"]["message"] == "" {
		t.Fatalf("status %d body is not exactly {\"error\":{\"message\":...}}: %s", r.status, r.body)
	}
	return env["error"]["message"]
}

type reqMod func(*http.Request)

func withoutAuth() reqMod { return func(r *http.Request) { r.Header.Del("Authorization") } }

func withKey(k string) reqMod { return func(r *http.Request) { r.Header.Set("Idempotency-Key", k) } }

func withoutKey() reqMod { return func(r *http.Request) { r.Header.Del("Idempotency-Key") } }

func withHeader(k, v string) reqMod { return func(r *http.Request) { r.Header.Add(k, v) } }

func withHost(host string) reqMod { return func(r *http.Request) { r.Host = host } }

func withBearer(pw string) reqMod {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+pw) }
}

func withCookie(c *http.Cookie) reqMod {
	return func(r *http.Request) {
		r.Header.Del("Authorization")
		r.AddCookie(c)
	}
}

func newKey() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "k-" + hex.EncodeToString(b)
}

// do sends one request with the bearer password and, for POST/PUT/DELETE,
// a fresh Idempotency-Key; mods change that.
func (h *harness) do(method, path, body string, mods ...reqMod) resp {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testPassword)
	if method != http.MethodGet && method != http.MethodHead {
		req.Header.Set("Idempotency-Key", newKey())
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, m := range mods {
		m(req)
	}
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// mustStatus fails unless r has the wanted status.
func mustStatus(t *testing.T, r resp, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body: %s", r.status, want, r.body)
	}
}

// createTask creates a task and returns its id.
func (h *harness) createTask(runtime, thread, input string) string {
	h.t.Helper()
	body, _ := json.Marshal(map[string]string{"agent_runtime": runtime, "thread_id": thread, "input_message": input})
	r := h.do("POST", "/v1/tasks", string(body))
	mustStatus(h.t, r, http.StatusOK)
	return r.json(h.t)["task_id"].(string)
}
