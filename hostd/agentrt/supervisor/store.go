package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// accountsFile holds the account metadata per runtime (no secret: the
// Claude entry carries the token's hash, which is the pin itself).
const accountsFile = "runtime-accounts.json"

type storedAccount struct {
	AccountID      string `json:"account_id,omitempty"`
	OrganizationID string `json:"organization_id,omitempty"`
	Email          string `json:"email,omitempty"`
	TokenSHA256    string `json:"token_sha256,omitempty"`
}

type accountsDoc struct {
	Version  int                      `json:"version"`
	Accounts map[string]storedAccount `json:"accounts"`
}

const accountsVersion = 1

func loadAccounts(dir string) (map[agentrt.Type]agentrt.Account, error) {
	out := map[agentrt.Type]agentrt.Account{}
	if dir == "" {
		return out, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, accountsFile))
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", accountsFile, err)
	}
	var doc accountsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", accountsFile, err)
	}
	if doc.Version > accountsVersion {
		return nil, fmt.Errorf("%s has version %d, newer than this hostd understands (%d)", accountsFile, doc.Version, accountsVersion)
	}
	for k, v := range doc.Accounts {
		if t, ok := agentrt.ParseType(k); ok {
			out[t] = agentrt.Account(v)
		}
	}
	return out, nil
}

// saveAccounts writes the metadata atomically (temp file + rename).
func (s *Supervisor) saveAccounts() error {
	if s.opts.StateDir == "" {
		return nil
	}
	s.mu.Lock()
	doc := accountsDoc{Version: accountsVersion, Accounts: map[string]storedAccount{}}
	for t, st := range s.rt {
		if st.account != (agentrt.Account{}) {
			doc.Accounts[string(t)] = storedAccount(st.account)
		}
	}
	s.mu.Unlock()
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.opts.StateDir, ".accounts-*")
	if err != nil {
		return fmt.Errorf("store account metadata: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("store account metadata: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("store account metadata: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store account metadata: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.opts.StateDir, accountsFile)); err != nil {
		return fmt.Errorf("store account metadata: %w", err)
	}
	return nil
}
