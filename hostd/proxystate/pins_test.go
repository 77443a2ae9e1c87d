package proxystate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

func TestSetPinValidatesAndClears(t *testing.T) {
	d := newDir(t)
	ctx := context.Background()
	sum := sha256.Sum256([]byte("token"))
	hash := hex.EncodeToString(sum[:])
	if err := d.SetPin(ctx, "openai", "acct-1"); err != nil {
		t.Fatal(err)
	}
	if err := d.SetPin(ctx, "claude", strings.ToUpper(hash)); err != nil {
		t.Fatal(err)
	}
	pins, err := d.ReadPins()
	if err != nil || pins != (policy.Pins{OpenAIAccountID: "acct-1", ClaudeTokenSHA256: hash}) {
		t.Fatalf("pins %+v %v", pins, err)
	}
	for _, bad := range []struct{ provider, value, err string }{
		{"gemini", "x", "unknown provider"},
		{"openai", "acct 1", "printable ASCII"},
		{"openai", "acct\n", "printable ASCII"},
		{"openai", strings.Repeat("a", 257), "longer than"},
		{"claude", "sk-ant-oat01-token", "never the token"},
		{"claude", hash[:63], "64-digit"},
		{"claude", hash[:63] + "g", "64-digit"},
	} {
		if err := d.SetPin(ctx, bad.provider, bad.value); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("SetPin(%q, %q) = %v, want %q", bad.provider, bad.value, err, bad.err)
		}
	}
	if err := d.SetPin(ctx, "openai", ""); err != nil {
		t.Fatal(err)
	}
	pins, _ = d.ReadPins()
	if pins.OpenAIAccountID != "" || pins.ClaudeTokenSHA256 != hash {
		t.Fatalf("clearing openai touched claude: %+v", pins)
	}
	assertNoTempFiles(t, d)
}

// Two processes pinning different providers at once must not lose either.
func TestConcurrentPinUpdatesKeepBoth(t *testing.T) {
	path := t.TempDir()
	ctx := context.Background()
	sum := sha256.Sum256([]byte("t"))
	hash := hex.EncodeToString(sum[:])
	for round := 0; round < 10; round++ {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			_ = NewDir(path, fixedClock).SetPin(ctx, "openai", "acct-"+strconv.Itoa(round))
		}()
		go func() { defer wg.Done(); _ = NewDir(path, fixedClock).SetPin(ctx, "claude", hash) }()
		wg.Wait()
		pins, err := NewDir(path, fixedClock).ReadPins()
		if err != nil || pins.OpenAIAccountID != "acct-"+strconv.Itoa(round) || pins.ClaudeTokenSHA256 != hash {
			t.Fatalf("round %d: %+v %v", round, pins, err)
		}
		_ = NewDir(path, fixedClock).SetPin(ctx, "claude", "")
	}
}

func TestCorruptPinsFileIsReplacedBySetPin(t *testing.T) {
	d := newDir(t)
	writeRaw(t, d, PinsFileName, `garbage`)
	if _, err := d.ReadPins(); err == nil {
		t.Fatal("garbage pins read")
	}
	if err := d.SetPin(context.Background(), "openai", "acct"); err != nil {
		t.Fatal(err)
	}
	if p, err := d.ReadPins(); err != nil || p.OpenAIAccountID != "acct" {
		t.Fatalf("%+v %v", p, err)
	}
}
