package claude

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/agentproc"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

func TestMain(m *testing.M) {
	if s := os.Getenv("TC_FAKE_CLAUDE"); s != "" {
		os.Exit(fakeClaude(s, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeAdapter(t *testing.T, scenario string, mut ...func(*Options)) (*Adapter, string) {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "fake.log")
	o := Options{
		Starter: agentproc.DevStarter{
			Bins: map[agentrt.Type]string{agentrt.ClaudeCode: os.Args[0]},
			Env: func(agentrt.Type) ([]string, error) {
				return []string{"TC_FAKE_CLAUDE=" + scenario, "TC_FAKE_LOG=" + logPath, "PATH=/usr/bin:/bin", "GORACE=atexit_sleep_ms=0"}, nil
			},
			Dir: dir,
		},
		Log: logging.Nop(),
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

func assertNoFakeLeft(t *testing.T, logPath string) {
	t.Helper()
	for _, pid := range loggedPids(logPath) {
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

func loggedPids(logPath string) []int {
	b, _ := os.ReadFile(logPath)
	var pids []int
	for _, l := range strings.Split(string(b), "\n") {
		for _, p := range []string{"start pid=", "child pid="} {
			if strings.HasPrefix(l, p) {
				var pid int
				if _, err := fmt.Sscanf(strings.TrimPrefix(l, p), "%d", &pid); err == nil {
					pids = append(pids, pid)
				}
			}
		}
	}
	return pids
}

func logText(logPath string) string {
	b, _ := os.ReadFile(logPath)
	return string(b)
}

func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
		return false
	}
	return true
}

type recorder struct {
	mu       sync.Mutex
	messages []string
	sessions []string
}

func (r *recorder) req(thread, session, input string) agentrt.TurnRequest {
	return agentrt.TurnRequest{
		ThreadID: thread, SessionID: session, Input: input,
		OnMessage: func(s string) { r.mu.Lock(); r.messages = append(r.messages, s); r.mu.Unlock() },
		OnSession: func(s string) { r.mu.Lock(); r.sessions = append(r.sessions, s); r.mu.Unlock() },
	}
}

func start(t *testing.T, a *Adapter, req agentrt.TurnRequest) agentrt.Turn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	turn, err := a.StartTurn(ctx, req)
	if err != nil {
		t.Fatalf("StartTurn: %v", err)
	}
	return turn
}

func wait(t *testing.T, turn agentrt.Turn) agentrt.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := turn.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return res
}
