package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/agentrt/accounts"
)

// HomeAccounts reads accounts straight from the agent home (dev mode,
// where hostd and the agent are the same user).
type HomeAccounts struct{ Home string }

// ReadAccount implements AccountReader.
func (h HomeAccounts) ReadAccount(_ context.Context, t agentrt.Type) (agentrt.Account, error) {
	switch t {
	case agentrt.Codex:
		id, err := accounts.CodexAccountID(h.Home)
		return agentrt.Account{AccountID: id}, err
	case agentrt.ClaudeCode:
		return accounts.ClaudeAccount(h.Home)
	}
	return agentrt.Account{}, fmt.Errorf("unknown runtime %q", t)
}

// HelperRunner runs a root-owned helper (sudohelper.Runner has it).
type HelperRunner interface {
	Run(ctx context.Context, name string, args []string, stdin []byte) ([]byte, error)
}

// HelperAccounts reads accounts through the read-codex-account-id and
// read-claude-account helpers (host mode).
type HelperAccounts struct{ Runner HelperRunner }

// ClaudeAccountJSON is what read-claude-account prints.
type ClaudeAccountJSON struct {
	AccountUUID      string `json:"account_uuid"`
	OrganizationUUID string `json:"organization_uuid"`
	Email            string `json:"email"`
	TokenSHA256      string `json:"token_sha256"`
}

// ReadAccount implements AccountReader.
func (h HelperAccounts) ReadAccount(ctx context.Context, t agentrt.Type) (agentrt.Account, error) {
	switch t {
	case agentrt.Codex:
		out, err := h.Runner.Run(ctx, "read-codex-account-id", nil, nil)
		if err != nil {
			return agentrt.Account{}, fmt.Errorf("read-codex-account-id: %w", err)
		}
		id := strings.TrimSpace(string(out))
		if id == "" {
			return agentrt.Account{}, fmt.Errorf("read-codex-account-id: %w", accounts.ErrNoAccount)
		}
		return agentrt.Account{AccountID: id}, nil
	case agentrt.ClaudeCode:
		out, err := h.Runner.Run(ctx, "read-claude-account", nil, nil)
		if err != nil {
			return agentrt.Account{}, fmt.Errorf("read-claude-account: %w", err)
		}
		var a ClaudeAccountJSON
		if err := json.Unmarshal(out, &a); err != nil {
			return agentrt.Account{}, fmt.Errorf("read-claude-account: output is not JSON")
		}
		return agentrt.Account{AccountID: a.AccountUUID, OrganizationID: a.OrganizationUUID, Email: a.Email, TokenSHA256: a.TokenSHA256}, nil
	}
	return agentrt.Account{}, fmt.Errorf("unknown runtime %q", t)
}
