package setup

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/agentproc"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/codex"
)

type recordingStarter struct{ specs []agentproc.Spec }

func (r *recordingStarter) Start(_ context.Context, spec agentproc.Spec) (*agentproc.Process, error) {
	r.specs = append(r.specs, spec)
	return nil, errors.New("recorded only")
}

// Dev mode appends its Codex overrides after the managed ones (the last
// -c wins), leaves Claude's command line alone and never writes into the
// caller's argument slice.
func TestDevOverridesAppendToCodexOnly(t *testing.T) {
	rec := &recordingStarter{}
	s := devOverrides{Starter: rec, args: map[agentrt.Type][]string{agentrt.Codex: DevCodexOverrides}}
	managed := codex.AppServerArgs()
	managed = managed[:len(managed):len(managed)]
	_, _ = s.Start(context.Background(), agentproc.Spec{Runtime: agentrt.Codex, Args: managed})
	_, _ = s.Start(context.Background(), agentproc.Spec{Runtime: agentrt.ClaudeCode, Args: []string{"-p"}})
	got := strings.Join(rec.specs[0].Args, " ")
	if !strings.HasSuffix(got, `-c web_search="disabled"`) || !strings.HasPrefix(got, strings.Join(codex.AppServerArgs(), " ")) {
		t.Errorf("codex args %q", got)
	}
	if strings.Join(managed, " ") != strings.Join(codex.AppServerArgs(), " ") {
		t.Error("caller's slice changed")
	}
	if a := rec.specs[1].Args; len(a) != 1 || a[0] != "-p" {
		t.Errorf("claude args %q", a)
	}
}
