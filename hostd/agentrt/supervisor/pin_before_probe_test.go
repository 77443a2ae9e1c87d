package supervisor

import (
	"context"
	"strings"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/logging"
)

// pinCheckingAdapter fails its probe unless the provider pin is already
// written, as Codex under ChatGPT auth does (its account/read calls
// chatgpt.com through the guarded proxy).
type pinCheckingAdapter struct {
	fakeAdapter
	j *journal
}

func (p *pinCheckingAdapter) Probe(ctx context.Context) (agentrt.ProbeResult, error) {
	if !strings.Contains(p.j.all(), "pin openai=acc-123") {
		return agentrt.ProbeResult{}, errDenied
	}
	return p.fakeAdapter.Probe(ctx)
}

var errDenied = deniedErr("workspace routing discovery failed: denied by the proxy (no account pinned)")

type deniedErr string

func (e deniedErr) Error() string { return string(e) }

// The account the agent home names is pinned before the probe, so a
// probe that itself needs the pin succeeds, and it is pinned only once.
func TestAccountPinnedBeforeProbe(t *testing.T) {
	j := &journal{}
	codex := &pinCheckingAdapter{fakeAdapter: fakeAdapter{t: agentrt.Codex, loggedIn: true}, j: j}
	s, err := New(Options{
		Adapters: map[agentrt.Type]agentrt.LoginAdapter{agentrt.Codex: codex},
		Accounts: j, Pins: j, Events: j, Listener: j,
		StateDir: t.TempDir(), Log: logging.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	s.ProvidersChanged(ctx, map[string]bool{"openai": true})
	s.Poll(ctx)
	if st := s.State(agentrt.Codex); st.Status != agentrt.StatusActive {
		t.Fatalf("state %+v\n%s", st, j.all())
	}
	if n := strings.Count(j.all(), "pin openai=acc-123"); n != 1 {
		t.Errorf("pinned %d times:\n%s", n, j.all())
	}
}
