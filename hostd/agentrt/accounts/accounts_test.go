package accounts

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func jwt(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + ".sig"
}

func write(t *testing.T, home, rel, body string) {
	t.Helper()
	p := filepath.Join(home, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCodexAccountIDSources(t *testing.T) {
	claim := func(id string) string {
		return jwt(`{"https://api.openai.com/auth":{"chatgpt_account_id":"` + id + `"}}`)
	}
	cases := []struct {
		name, body, want, wantErr string
	}{
		{"tokens.account_id wins", `{"tokens":{"account_id":"acc-direct","access_token":"` + claim("acc-jwt") + `"}}`, "acc-direct", ""},
		{"access token claim", `{"tokens":{"access_token":"` + claim("acc-access") + `","id_token":"` + claim("acc-id") + `"}}`, "acc-access", ""},
		{"id token claim", `{"tokens":{"access_token":"opaque","id_token":"` + claim("acc-id") + `"}}`, "acc-id", ""},
		{"api key only", `{"OPENAI_API_KEY":"sk-x","tokens":null}`, "", "no ChatGPT tokens"},
		{"no id anywhere", `{"tokens":{"access_token":"a.b.c"}}`, "", "no ChatGPT account id"},
		{"bad json", `{"tokens":`, "", "not valid JSON"},
	}
	for _, c := range cases {
		home := t.TempDir()
		write(t, home, CodexAuthFile, c.body)
		got, err := CodexAccountID(home)
		if got != c.want || (c.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: got %q, %v", c.name, got, err)
		}
	}
	if _, err := CodexAccountID(t.TempDir()); !errors.Is(err, ErrNoAccount) {
		t.Errorf("missing file: %v", err)
	}
}

// The token is only ever returned hashed, and no error quotes file
// content.
func TestClaudeAccountHashesTokenAndReadsMetadata(t *testing.T) {
	home := t.TempDir()
	write(t, home, ClaudeCredentialsFile, `{"claudeAiOauth":{"accessToken":"sk-ant-oat01-secret","refreshToken":"r","expiresAt":1}}`)
	write(t, home, ClaudeConfigFile, `{"oauthAccount":{"accountUuid":"acc-1","organizationUuid":"org-1","emailAddress":"a@example.com"}}`)
	acc, err := ClaudeAccount(home)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("sk-ant-oat01-secret"))
	if acc.TokenSHA256 != hex.EncodeToString(sum[:]) || acc.AccountID != "acc-1" || acc.OrganizationID != "org-1" || acc.Email != "a@example.com" {
		t.Fatalf("account %+v", acc)
	}
	write(t, home, ClaudeCredentialsFile, `{"claudeAiOauth":{"accessToken":"sk-ant-secret-in-broken-json"`)
	if _, err := ClaudeAccount(home); err == nil || strings.Contains(err.Error(), "sk-ant") {
		t.Fatalf("err %v", err)
	}
	if _, err := ClaudeAccount(t.TempDir()); !errors.Is(err, ErrNoAccount) {
		t.Errorf("logged out: %v", err)
	}
}

func FuzzChatGPTAccountClaim(f *testing.F) {
	f.Add(jwt(`{"https://api.openai.com/auth":{"chatgpt_account_id":"x"}}`))
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, s string) { _ = chatGPTAccountClaim(s) })
}
