package setup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/supervisor"
	"github.com/trustyclaw/trustyclaw/hostd/internal/fakemodel"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(s string) { j.mu.Lock(); j.lines = append(j.lines, s); j.mu.Unlock() }
func (j *journal) all() string  { j.mu.Lock(); defer j.mu.Unlock(); return strings.Join(j.lines, "\n") }
func (j *journal) AppendRuntimeEvent(_ context.Context, typ string, rt agentrt.Type) error {
	j.add(typ + " " + string(rt))
	return nil
}
func (j *journal) SetAccountPin(_ context.Context, provider, value string) error {
	j.add("pin " + provider + "=" + value)
	return nil
}
func (j *journal) RuntimeStatusChanged(t agentrt.Type, from, to agentrt.Status) {
	j.add("status " + string(t) + " " + string(from) + "->" + string(to))
}

// The dev wiring with the real pinned CLIs, configured the way `hostd dev
// --agent-env … --codex-bin … --claude-bin …` does: both runtimes probe
// active under API-key auth, and each runs a turn.
func TestDevWiringRealCLIsGoActiveAndRunTurns(t *testing.T) {
	codexBin, err1 := fakemodel.FindCLI("codex")
	claudeBin, err2 := fakemodel.FindCLI("claude")
	if err1 != nil || err2 != nil {
		t.Skipf("real CLIs not installed: %v %v", err1, err2)
	}
	state := t.TempDir()
	model, err := fakemodel.Start(state, func(r fakemodel.Request) fakemodel.Reply {
		return fakemodel.Reply{Text: "reply to: " + fakemodel.LastUserText(r.Body)}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	px, err := fakemodel.StartProxy(model.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	cfgDir := filepath.Join(state, "agent-home", ".codex")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "config.toml"), []byte(`model = "m"
model_provider = "e2e"
[model_providers.e2e]
name = "E2E"
base_url = "https://model.e2e.test/v1"
env_key = "E2E_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
`), 0o600); err != nil {
		t.Fatal(err)
	}
	rts, err := Dev(DevConfig{
		StateDir: state, ProxyURL: px.URL(), CAFile: model.CAFile,
		CodexBin: codexBin, ClaudeBin: claudeBin,
		AgentEnv: []string{"E2E_API_KEY=sk-e2e", "ANTHROPIC_BASE_URL=https://model.e2e.test", "ANTHROPIC_API_KEY=sk-ant-e2e", "CLAUDE_CODE_MAX_RETRIES=0"},
		Log:      logging.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	j := &journal{}
	sup, err := supervisor.New(supervisor.Options{Adapters: rts.Adapters, Accounts: rts.Accounts, Pins: j, Events: j, Listener: j, StateDir: state, Log: logging.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	defer func() {
		for _, a := range rts.List() {
			_ = a.CloseAll(context.Background())
		}
	}()
	sup.ProvidersChanged(ctx, map[string]bool{"openai": true, "claude": true})
	sup.Poll(ctx)
	for _, st := range sup.States() {
		if st.Status != agentrt.StatusActive {
			t.Fatalf("%s: %+v", st.Type, st)
		}
	}
	log := j.all()
	if !strings.Contains(log, "agent_runtime.active codex") || !strings.Contains(log, "agent_runtime.active claude_code") {
		t.Errorf("events:\n%s", log)
	}
	if strings.Contains(log, "pin ") {
		t.Errorf("API-key setup wrote a pin:\n%s", log)
	}
	for _, a := range rts.List() {
		turn, err := a.StartTurn(ctx, agentrt.TurnRequest{ThreadID: "wiring", Input: "hello " + string(a.Type())})
		if err != nil {
			t.Fatalf("%s: %v", a.Type(), err)
		}
		res, err := turn.Wait(ctx)
		if err != nil || res.Outcome != agentrt.OutcomeCompleted || res.Output != "reply to: hello "+string(a.Type()) {
			t.Errorf("%s: %+v %v", a.Type(), res, err)
		}
	}
}
