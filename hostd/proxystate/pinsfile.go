package proxystate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// maxAccountIDLen bounds a pinned OpenAI account id.
const maxAccountIDLen = 256

// pinsEnvelope is pins.json.
type pinsEnvelope struct {
	SchemaVersion     int       `json:"schema_version"`
	UpdatedAt         time.Time `json:"updated_at"`
	OpenAIAccountID   string    `json:"openai_account_id,omitempty"`
	ClaudeTokenSHA256 string    `json:"claude_token_sha256,omitempty"`
}

// NormalizePin validates one provider's pin value and returns its stored
// form: an OpenAI account id is 1..256 printable ASCII characters without
// spaces; a Claude token hash is 64 hex digits (stored lower-case). The
// empty value (clear the pin) is valid for both.
func NormalizePin(provider, value string) (string, error) {
	switch provider {
	case netstate.ProviderOpenAI:
		if len(value) > maxAccountIDLen {
			return "", fmt.Errorf("OpenAI account id longer than %d bytes", maxAccountIDLen)
		}
		for i := 0; i < len(value); i++ {
			if c := value[i]; c <= ' ' || c >= 0x7f {
				return "", errors.New("OpenAI account id must be printable ASCII without spaces")
			}
		}
		return value, nil
	case netstate.ProviderClaude:
		if value == "" {
			return "", nil
		}
		v := strings.ToLower(value)
		if len(v) != 64 || strings.Trim(v, "0123456789abcdef") != "" {
			return "", errors.New("the Claude token pin must be the 64-digit SHA-256 hex of the token, never the token")
		}
		return v, nil
	}
	return "", fmt.Errorf("unknown provider %q; use %q or %q", provider, netstate.ProviderOpenAI, netstate.ProviderClaude)
}

func parsePinsFile(b []byte) (policy.Pins, error) {
	if err := checkVersion(PinsFileName, b); err != nil {
		return policy.Pins{}, err
	}
	var env pinsEnvelope
	if err := decodeStrict(PinsFileName, b, &env); err != nil {
		return policy.Pins{}, err
	}
	oa, err := NormalizePin(netstate.ProviderOpenAI, env.OpenAIAccountID)
	if err != nil {
		return policy.Pins{}, fmt.Errorf("%s: %w", PinsFileName, err)
	}
	cl, err := NormalizePin(netstate.ProviderClaude, env.ClaudeTokenSHA256)
	if err != nil {
		return policy.Pins{}, fmt.Errorf("%s: %w", PinsFileName, err)
	}
	return policy.Pins{OpenAIAccountID: oa, ClaudeTokenSHA256: cl}, nil
}

// loadPins reads the pins; a missing file means nothing is pinned.
func (d *Dir) loadPins() (policy.Pins, error) {
	b, err := readFileCapped(filepath.Join(d.path, PinsFileName), maxStateFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return policy.Pins{}, nil
	}
	if err != nil {
		return policy.Pins{}, fmt.Errorf("read %s: %w", PinsFileName, err)
	}
	return parsePinsFile(b)
}

// ReadPins returns the current pins.
func (d *Dir) ReadPins() (policy.Pins, error) { return d.loadPins() }

// SetPin replaces one provider's pin ("" clears it), waiting for any
// other pin update to finish. A corrupt pins file is replaced (the other
// provider's pin is then lost, which only denies more); a file from a
// newer schema is refused.
func (d *Dir) SetPin(ctx context.Context, provider, value string) error {
	v, err := NormalizePin(provider, value)
	if err != nil {
		return err
	}
	d.pinsMu.Lock()
	defer d.pinsMu.Unlock()
	lock, err := waitLock(ctx, filepath.Join(d.path, PinsLockName))
	if err != nil {
		return fmt.Errorf("set %s pin: %w", provider, err)
	}
	defer lock.unlock()
	pins, err := d.loadPins()
	if errors.Is(err, ErrNewerSchema) {
		return fmt.Errorf("set %s pin: %w", provider, err)
	}
	if err != nil {
		pins = policy.Pins{}
	}
	switch provider {
	case netstate.ProviderOpenAI:
		pins.OpenAIAccountID = v
	case netstate.ProviderClaude:
		pins.ClaudeTokenSHA256 = v
	}
	env := pinsEnvelope{SchemaVersion: SchemaVersion, UpdatedAt: d.now().UTC(),
		OpenAIAccountID: pins.OpenAIAccountID, ClaudeTokenSHA256: pins.ClaudeTokenSHA256}
	data, err := marshalIndent(env)
	if err != nil {
		return fmt.Errorf("encode %s: %w", PinsFileName, err)
	}
	if err := writeFileAtomic(d.path, PinsFileName, data, 0o600); err != nil {
		return fmt.Errorf("set %s pin: %w", provider, err)
	}
	return nil
}
