// Package accounts reads the provider account a CLI is logged into from
// the agent home: the ChatGPT account id from Codex's auth.json, and the
// Claude account metadata plus the SHA-256 of the OAuth access token from
// Claude Code's files. The proxy pins compare against these.
//
// It only reads, never writes, and never returns or logs a token: the
// Claude token leaves this package only as its hash. JWTs are decoded
// without verification: the values are what the CLI itself will send.
package accounts

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

// maxFile bounds any file read here.
const maxFile = 4 << 20

// ErrNoAccount: the CLI is not logged in with an account (no file, or no
// account in it).
var ErrNoAccount = errors.New("no account found")

// File locations inside the agent home (pinned CLI versions).
const (
	CodexAuthFile         = ".codex/auth.json"
	ClaudeConfigFile      = ".claude.json"
	ClaudeCredentialsFile = ".claude/.credentials.json"
)

func readJSON(path string, v any) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s missing", ErrNoAccount, filepath.Base(path))
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if len(b) > maxFile {
		return fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), maxFile)
	}
	if err := json.Unmarshal(b, v); err != nil {
		// The JSON error may quote content; keep it out of the message.
		return fmt.Errorf("%s is not valid JSON", filepath.Base(path))
	}
	return nil
}

// CodexAccountID returns the ChatGPT account id: tokens.account_id, else
// the chatgpt_account_id claim inside "https://api.openai.com/auth" of
// the access token's, then the id token's, JWT payload.
func CodexAccountID(home string) (string, error) {
	var auth struct {
		Tokens *struct {
			AccountID   string `json:"account_id"`
			AccessToken string `json:"access_token"`
			IDToken     string `json:"id_token"`
		} `json:"tokens"`
	}
	if err := readJSON(filepath.Join(home, CodexAuthFile), &auth); err != nil {
		return "", err
	}
	if auth.Tokens == nil {
		return "", fmt.Errorf("%w: auth.json has no ChatGPT tokens", ErrNoAccount)
	}
	if id := strings.TrimSpace(auth.Tokens.AccountID); id != "" {
		return id, nil
	}
	for _, tok := range []string{auth.Tokens.AccessToken, auth.Tokens.IDToken} {
		if id := chatGPTAccountClaim(tok); id != "" {
			return id, nil
		}
	}
	return "", fmt.Errorf("%w: auth.json names no ChatGPT account id", ErrNoAccount)
}

// chatGPTAccountClaim decodes a JWT payload (base64url, unverified) and
// returns its ChatGPT account id claim, or "".
func chatGPTAccountClaim(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var claims struct {
		Auth struct {
			ChatGPTAccountID string `json:"chatgpt_account_id"`
		} `json:"https://api.openai.com/auth"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return strings.TrimSpace(claims.Auth.ChatGPTAccountID)
}

// ClaudeAccount returns the Claude.ai account uuid, organization uuid and
// email from ~/.claude.json and the SHA-256 hex of the OAuth access token
// from ~/.claude/.credentials.json.
func ClaudeAccount(home string) (agentrt.Account, error) {
	var creds struct {
		OAuth *struct {
			AccessToken string `json:"accessToken"`
		} `json:"claudeAiOauth"`
	}
	if err := readJSON(filepath.Join(home, ClaudeCredentialsFile), &creds); err != nil {
		return agentrt.Account{}, err
	}
	if creds.OAuth == nil || creds.OAuth.AccessToken == "" {
		return agentrt.Account{}, fmt.Errorf("%w: no Claude.ai OAuth token", ErrNoAccount)
	}
	sum := sha256.Sum256([]byte(creds.OAuth.AccessToken))
	acc := agentrt.Account{TokenSHA256: hex.EncodeToString(sum[:])}
	var cfg struct {
		OAuthAccount *struct {
			AccountUUID      string `json:"accountUuid"`
			OrganizationUUID string `json:"organizationUuid"`
			EmailAddress     string `json:"emailAddress"`
		} `json:"oauthAccount"`
	}
	if err := readJSON(filepath.Join(home, ClaudeConfigFile), &cfg); err != nil && !errors.Is(err, ErrNoAccount) {
		return agentrt.Account{}, err
	}
	if cfg.OAuthAccount != nil {
		acc.AccountID = cfg.OAuthAccount.AccountUUID
		acc.OrganizationID = cfg.OAuthAccount.OrganizationUUID
		acc.Email = cfg.OAuthAccount.EmailAddress
	}
	return acc, nil
}
