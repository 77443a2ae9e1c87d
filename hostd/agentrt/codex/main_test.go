package codex

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/agentproc"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

func TestMain(m *testing.M) {
	if s := os.Getenv("TC_FAKE_CODEX"); s != "" {
		fakeAppServer(s)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeAdapter returns an adapter whose app-servers are the test binary
// playing scenario, and the path of the fake's request log.
func fakeAdapter(t *testing.T, scenario string, mut ...func(*Options)) (*Adapter, string) {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "fake.log")
	o := Options{
		Starter: agentproc.DevStarter{
			Bins: map[agentrt.Type]string{agentrt.Codex: os.Args[0]},
			Env: func(agentrt.Type) ([]string, error) {
				return []string{"TC_FAKE_CODEX=" + scenario, "TC_FAKE_LOG=" + logPath, "PATH=/usr/bin:/bin", "GORACE=atexit_sleep_ms=0"}, nil
			},
			Dir: dir,
		},
		RequestTimeout: 10 * time.Second,
		Log:            logging.Nop(),
	}
	for _, f := range mut {
		f(&o)
	}
	a := New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.CloseAll(ctx); err != nil {
			t.Errorf("CloseAll: %v", err)
		}
		assertNoFakeLeft(t, logPath)
	})
	return a, logPath
}

// assertNoFakeLeft checks that every process group the fake started is
// gone, including children it spawned.
func assertNoFakeLeft(t *testing.T, logPath string) {
	t.Helper()
	for _, pid := range loggedPids(t, logPath) {
		deadline := time.Now().Add(5 * time.Second)
		for agentproc.GroupAlive(pid) || processAlive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("process (group) %d still alive", pid)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func loggedPids(t *testing.T, logPath string) []int {
	b, _ := os.ReadFile(logPath)
	var pids []int
	for _, l := range strings.Split(string(b), "\n") {
		var pid int
		if _, err := fmtSscanf(l, &pid); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func logLines(t *testing.T, logPath string) []string {
	b, _ := os.ReadFile(logPath)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func countLines(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if l == s {
			n++
		}
	}
	return n
}

type recorder struct {
	mu       sync.Mutex
	messages []string
	sessions []string
}

func (r *recorder) req(thread, session, input string) agentrt.TurnRequest {
	return agentrt.TurnRequest{
		ThreadID:  thread,
		SessionID: session,
		Input:     input,
		OnMessage: func(s string) { r.mu.Lock(); r.messages = append(r.messages, s); r.mu.Unlock() },
		OnSession: func(s string) { r.mu.Lock(); r.sessions = append(r.sessions, s); r.mu.Unlock() },
	}
}

func runTurn(t *testing.T, a *Adapter, req agentrt.TurnRequest) agentrt.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	turn, err := a.StartTurn(ctx, req)
	if err != nil {
		t.Fatalf("StartTurn: %v", err)
	}
	res, err := turn.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return res
}
