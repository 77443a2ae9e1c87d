package codex

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentenv"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/agentproc"
	"github.com/trustyclaw/trustyclaw/hostd/internal/fakemodel"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

// realCodex sets up the pinned codex against a fake Responses API behind
// a CONNECT proxy, configured (as an operator would) in the agent's own
// config.toml for API-key auth.
type realCodex struct {
	adapter *Adapter
	model   *fakemodel.Server
	proxy   *fakemodel.Proxy
	home    string
	bin     string
}

func setupRealCodex(t testing.TB, reply func(fakemodel.Request) fakemodel.Reply) *realCodex {
	t.Helper()
	bin, err := fakemodel.FindCLI("codex")
	if err != nil {
		t.Skip("real Codex CLI not installed: " + err.Error())
	}
	dir := t.TempDir()
	model, err := fakemodel.Start(dir, reply)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(model.Close)
	px, err := fakemodel.StartProxy(model.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	home := filepath.Join(dir, "agent-home")
	writeCodexConfig(t, home)
	node, _ := exec.LookPath("node")
	env := func(rt agentrt.Type) ([]string, error) {
		return agentenv.Build(agentenv.Config{
			Home: home, ProxyURL: px.URL(), CAFile: model.CAFile, PathDirs: []string{filepath.Dir(node), filepath.Dir(bin)},
			Additions: []agentenv.Var{{Name: "E2E_API_KEY", Value: "sk-e2e-test"}},
		}, rt)
	}
	a := New(Options{
		Starter:        agentproc.DevStarter{Bins: map[agentrt.Type]string{agentrt.Codex: bin}, Env: env, Dir: home},
		Cwd:            home,
		RequestTimeout: 30 * time.Second,
		Log:            logging.Nop(),
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.CloseAll(ctx)
	})
	return &realCodex{adapter: a, model: model, proxy: px, home: home, bin: bin}
}

// writeCodexConfig is the operator's own config: hostd never writes it in
// production; the test plays the operator.
func writeCodexConfig(t testing.TB, home string) {
	t.Helper()
	cfg := `model = "e2e-model"
model_provider = "e2e"

[model_providers.e2e]
name = "E2E"
base_url = "https://model.e2e.test/v1"
env_key = "E2E_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
`
	if err := os.MkdirAll(filepath.Join(home, ".codex"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".codex", "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func echoReply(r fakemodel.Request) fakemodel.Reply {
	return fakemodel.Reply{Text: "reply to: " + fakemodel.LastUserText(r.Body)}
}

// The managed overrides are valid settings of the pinned version (strict
// config refuses unknown keys and values).
func TestRealCodexAcceptsManagedOverrides(t *testing.T) {
	rc := setupRealCodex(t, echoReply)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, rc.bin, append(AppServerArgs(), "--strict-config", "--print-startup-config")...)
	cmd.Env = []string{"HOME=" + rc.home, "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"appServerVersion":"0.169.0"`) {
		t.Fatalf("strict config check: %v\n%s", err, out)
	}
	cfg, _ := os.ReadFile(filepath.Join(rc.home, ".codex", "config.toml"))
	if strings.Contains(string(cfg), "plugins") {
		t.Error("agent config.toml was rewritten")
	}
}

// A turn, a warm follow-up and a cold resume against the real CLI: the
// fake model sees the earlier turns in its input each time.
func TestRealCodexTurnFollowUpAndResume(t *testing.T) {
	rc := setupRealCodex(t, echoReply)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	probe, err := rc.adapter.Probe(ctx)
	if err != nil || !probe.LoggedIn {
		t.Fatalf("probe %+v %v", probe, err)
	}
	var r recorder
	first := runTurn(t, rc.adapter, r.req("thread-a", "", "hello codex"))
	if first.Outcome != agentrt.OutcomeCompleted || first.Output != "reply to: hello codex" || first.SessionID == "" {
		t.Fatalf("first %+v", first)
	}
	second := runTurn(t, rc.adapter, r.req("thread-a", first.SessionID, "second question"))
	if second.Output != "reply to: second question" || second.SessionID != first.SessionID {
		t.Fatalf("second %+v", second)
	}
	reqs := rc.model.Requests()
	if last := reqs[len(reqs)-1].Body; !strings.Contains(last, "hello codex") {
		t.Error("warm follow-up did not carry the earlier turn")
	}
	if err := rc.adapter.CloseAll(ctx); err != nil {
		t.Fatal(err)
	}
	third := runTurn(t, rc.adapter, r.req("thread-a", first.SessionID, "third question"))
	if third.Output != "reply to: third question" || third.SessionID != first.SessionID {
		t.Fatalf("third %+v", third)
	}
	reqs = rc.model.Requests()
	if last := reqs[len(reqs)-1].Body; !strings.Contains(last, "hello codex") || !strings.Contains(last, "second question") {
		t.Error("cold resume did not replay the history")
	}
}

// Kill ends a slow real turn, and the thread works afterwards.
func TestRealCodexKillThenThreadStillWorks(t *testing.T) {
	var slow atomic.Bool
	slow.Store(true)
	rc := setupRealCodex(t, func(r fakemodel.Request) fakemodel.Reply {
		rep := echoReply(r)
		if slow.Load() && strings.Contains(r.Body, "slow one") {
			rep.Delay = 30 * time.Second
		}
		return rep
	})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var r recorder
	turn, err := rc.adapter.StartTurn(ctx, r.req("thread-k", "", "slow one"))
	if err != nil {
		t.Fatal(err)
	}
	for len(rc.model.Requests()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	if err := turn.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	res, _ := turn.Wait(ctx)
	if res.Outcome != agentrt.OutcomeInterrupted {
		t.Fatalf("killed turn %+v", res)
	}
	slow.Store(false)
	next := runTurn(t, rc.adapter, r.req("thread-k", res.SessionID, "after kill"))
	if next.Outcome != agentrt.OutcomeCompleted || next.Output != "reply to: after kill" {
		t.Fatalf("after kill %+v", next)
	}
}

// A steer reaches the running real turn: Codex re-sends the request with
// both user messages and the turn ends with the answer to the steer.
func TestRealCodexSteerReachesRunningTurn(t *testing.T) {
	rc := setupRealCodex(t, func(r fakemodel.Request) fakemodel.Reply {
		rep := echoReply(r)
		if !strings.Contains(r.Body, "change of plan") {
			rep.Delay = 3 * time.Second
		}
		return rep
	})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var r recorder
	turn, err := rc.adapter.StartTurn(ctx, r.req("thread-s", "", "long task"))
	if err != nil {
		t.Fatal(err)
	}
	for len(rc.model.Requests()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	t0 := time.Now()
	if err := turn.Steer(ctx, "change of plan"); err != nil {
		t.Fatal(err)
	}
	res, err := turn.Wait(ctx)
	reqs := rc.model.Requests()
	t.Logf("steer to end of turn: %v; steered request sent %v after the steer", time.Since(t0), reqs[len(reqs)-1].At.Sub(t0))
	if err != nil || res.Outcome != agentrt.OutcomeCompleted || res.Output != "reply to: change of plan" {
		t.Fatalf("result %+v %v", res, err)
	}
	if last := reqs[len(reqs)-1].Body; !strings.Contains(last, "long task") {
		t.Error("steered request lost the original input")
	}
}

func setupRealCodexB(b *testing.B) *realCodex { return setupRealCodex(b, echoReply) }

// A model error fails the real turn at once, with the error in words.
func TestRealCodexModelErrorFailsTurn(t *testing.T) {
	rc := setupRealCodex(t, func(fakemodel.Request) fakemodel.Reply { return fakemodel.Reply{Status: 401} })
	var r recorder
	res := runTurn(t, rc.adapter, r.req("thread-e", "", "x"))
	if res.Outcome != agentrt.OutcomeFailed || res.Error == "" {
		t.Fatalf("result %+v", res)
	}
	t.Logf("error: %s", res.Error)
}

// A proxy that refuses the model host (policy closed) fails the turn
// promptly: bounded connection retries, not an endless back-off.
func TestRealCodexDeniedModelHostFailsTurnPromptly(t *testing.T) {
	rc := setupRealCodex(t, echoReply)
	rc.proxy.SetDeny(true)
	var r recorder
	start := time.Now()
	res := runTurn(t, rc.adapter, r.req("thread-d", "", "x"))
	if res.Outcome != agentrt.OutcomeFailed || res.Error == "" {
		t.Fatalf("result %+v", res)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("denied turn took %v to fail", took)
	}
	t.Logf("after %v: %s", time.Since(start), res.Error)
}
