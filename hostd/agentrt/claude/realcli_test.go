package claude

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentenv"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/agentproc"
	"github.com/trustyclaw/trustyclaw/hostd/internal/fakemodel"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

type realClaude struct {
	adapter *Adapter
	model   *fakemodel.Server
	proxy   *fakemodel.Proxy
	bin     string
	env     func(agentrt.Type) ([]string, error)
	home    string
}

// setupRealClaude runs the pinned claude against a fake Messages API
// behind a CONNECT proxy, with API-key auth given as --agent-env would.
func setupRealClaude(t testing.TB, reply func(fakemodel.Request) fakemodel.Reply) *realClaude {
	t.Helper()
	bin, err := fakemodel.FindCLI("claude")
	if err != nil {
		t.Skip("real Claude Code CLI not installed: " + err.Error())
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
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	node, _ := exec.LookPath("node")
	env := func(rt agentrt.Type) ([]string, error) {
		return agentenv.Build(agentenv.Config{
			Home: home, ProxyURL: px.URL(), CAFile: model.CAFile,
			PathDirs:   []string{filepath.Dir(node), filepath.Dir(bin)},
			RunsAsRoot: os.Geteuid() == 0,
			Additions: []agentenv.Var{
				{Name: "ANTHROPIC_BASE_URL", Value: "https://model.e2e.test"},
				{Name: "ANTHROPIC_API_KEY", Value: "sk-ant-e2e-test"},
				{Name: "CLAUDE_CODE_MAX_RETRIES", Value: "0"},
			},
		}, rt)
	}
	a := New(Options{
		Starter: agentproc.DevStarter{Bins: map[agentrt.Type]string{agentrt.ClaudeCode: bin}, Env: env, Dir: home},
		Log:     logging.Nop(),
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.CloseAll(ctx)
	})
	return &realClaude{adapter: a, model: model, proxy: px, bin: bin, env: env, home: home}
}

func echoReply(r fakemodel.Request) fakemodel.Reply {
	return fakemodel.Reply{Text: "reply to: " + fakemodel.LastUserText(r.Body)}
}

// A turn and a resumed follow-up against the real CLI; only the model
// host was contacted (nonessential traffic is off).
func TestRealClaudeTurnAndResume(t *testing.T) {
	rc := setupRealClaude(t, echoReply)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	probe, err := rc.adapter.Probe(ctx)
	if err != nil || !probe.LoggedIn {
		t.Fatalf("probe %+v %v", probe, err)
	}
	var r recorder
	first := wait(t, start(t, rc.adapter, r.req("thread-c", "", "hello claude")))
	if first.Outcome != agentrt.OutcomeCompleted || first.Output != "reply to: hello claude" || !ValidSessionID(first.SessionID) {
		t.Fatalf("first %+v", first)
	}
	if len(r.messages) == 0 || r.messages[len(r.messages)-1] != "reply to: hello claude" {
		t.Errorf("messages %q", r.messages)
	}
	second := wait(t, start(t, rc.adapter, r.req("thread-c", first.SessionID, "second question")))
	if second.Outcome != agentrt.OutcomeCompleted || second.Output != "reply to: second question" || second.SessionID != first.SessionID {
		t.Fatalf("second %+v", second)
	}
	reqs := rc.model.Requests()
	if last := reqs[len(reqs)-1].Body; !strings.Contains(last, "hello claude") {
		t.Error("resumed turn did not carry the earlier turn")
	}
	for _, c := range rc.proxy.Connects() {
		if c != "model.e2e.test:443" {
			t.Errorf("unexpected CONNECT %s (nonessential traffic should be off)", c)
		}
	}
}

// A steer during a real text-only turn is queued by the CLI as a next
// turn; the adapter waits for it and the output answers the steer.
func TestRealClaudeSteerReachesTurn(t *testing.T) {
	rc := setupRealClaude(t, func(r fakemodel.Request) fakemodel.Reply {
		rep := echoReply(r)
		if strings.Contains(rep.Text, "long task") {
			rep.Delay = 1500 * time.Millisecond
		}
		return rep
	})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var r recorder
	turn := start(t, rc.adapter, r.req("thread-s", "", "long task"))
	for len(rc.model.Requests()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	if err := turn.Steer(ctx, "change of plan"); err != nil {
		t.Fatal(err)
	}
	res := wait(t, turn)
	if res.Outcome != agentrt.OutcomeCompleted || res.Output != "reply to: change of plan" {
		t.Fatalf("result %+v (messages %q)", res, r.messages)
	}
}

// Kill (interrupt, then the group) ends a slow real turn, and the
// session resumes afterwards.
func TestRealClaudeKillThenResume(t *testing.T) {
	rc := setupRealClaude(t, func(r fakemodel.Request) fakemodel.Reply {
		rep := echoReply(r)
		if strings.Contains(rep.Text, "slow one") {
			rep.Delay = 30 * time.Second
		}
		return rep
	})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var r recorder
	turn := start(t, rc.adapter, r.req("thread-k", "", "slow one"))
	for len(rc.model.Requests()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	if err := turn.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	res := wait(t, turn)
	if res.Outcome != agentrt.OutcomeInterrupted || !ValidSessionID(res.SessionID) {
		t.Fatalf("killed %+v", res)
	}
	next := wait(t, start(t, rc.adapter, r.req("thread-k", res.SessionID, "after kill")))
	if next.Outcome != agentrt.OutcomeCompleted || next.Output != "reply to: after kill" {
		t.Fatalf("after kill %+v", next)
	}
}

// A model error fails the turn at once with the error in words.
func TestRealClaudeModelErrorFailsTurn(t *testing.T) {
	rc := setupRealClaude(t, func(fakemodel.Request) fakemodel.Reply { return fakemodel.Reply{Status: 401} })
	var r recorder
	res := wait(t, start(t, rc.adapter, r.req("thread-e", "", "x")))
	if res.Outcome != agentrt.OutcomeFailed || res.Error == "" {
		t.Fatalf("result %+v", res)
	}
}

// A proxy that refuses the model host (policy closed) fails the turn
// promptly (CLAUDE_CODE_MAX_RETRIES=0 as the tests set it).
func TestRealClaudeDeniedModelHostFailsTurn(t *testing.T) {
	rc := setupRealClaude(t, echoReply)
	rc.proxy.SetDeny(true)
	var r recorder
	t0 := time.Now()
	res := wait(t, start(t, rc.adapter, r.req("thread-d", "", "x")))
	if res.Outcome != agentrt.OutcomeFailed || res.Error == "" {
		t.Fatalf("result %+v", res)
	}
	t.Logf("after %v: %s", time.Since(t0), res.Error)
}
