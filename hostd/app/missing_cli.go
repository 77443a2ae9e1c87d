package app

import (
	"context"
	"fmt"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// missingCLI stands in for a runtime whose CLI was not found at start:
// every probe fails with the reason, so the runtime shows as error in
// health (instead of the host refusing to start), and no turn can start.
type missingCLI struct {
	t      agentrt.Type
	reason string
}

func (m missingCLI) Type() agentrt.Type { return m.t }

func (m missingCLI) err() error { return fmt.Errorf("%s CLI is not available: %s", m.t, m.reason) }

func (m missingCLI) Probe(context.Context) (agentrt.ProbeResult, error) {
	return agentrt.ProbeResult{}, m.err()
}

func (m missingCLI) StartTurn(context.Context, agentrt.TurnRequest) (agentrt.Turn, error) {
	return nil, m.err()
}

func (m missingCLI) CloseAll(context.Context) error { return nil }

func (m missingCLI) StartLogin(context.Context) (agentrt.LoginFlow, error) { return nil, m.err() }
