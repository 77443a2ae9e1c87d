package proxystate

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

func get(host string) policy.Request {
	return policy.Request{Scheme: "https", Method: "GET", Host: host, Port: 443, HostHeader: host, Target: "/"}
}

func TestWatcherSeesEveryReplacement(t *testing.T) {
	d := newDir(t)
	w := NewWatcher(d)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		// Same size and (fixed clock) same updated_at every time: only
		// the inode tells the versions apart.
		if _, err := d.ReplacePolicy(ctx, policyN(i)); err != nil {
			t.Fatal(err)
		}
		c, _, err := w.Current()
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 5; j++ {
			host := "host" + string(rune('0'+j)) + ".example.com"
			if got := c.Decide(get(host), policy.Pins{}).Allow; got != (i == j) {
				t.Fatalf("after replacement %d, %s allowed=%v", i, host, got)
			}
		}
	}
}

func TestWatcherCachesUntilAFileChanges(t *testing.T) {
	d := newDir(t)
	w := NewWatcher(d)
	if _, err := d.ReplacePolicy(context.Background(), policyN(1)); err != nil {
		t.Fatal(err)
	}
	a, _, _ := w.Current()
	b, _, _ := w.Current()
	if a != b {
		t.Fatal("unchanged files were re-compiled")
	}
	if err := d.SetPin(context.Background(), "openai", "acct-9"); err != nil {
		t.Fatal(err)
	}
	c, pins, err := w.Current()
	if err != nil || pins.OpenAIAccountID != "acct-9" || c == a {
		t.Fatalf("pins change not seen: %+v %v", pins, err)
	}
	// Deleting the policy is a fresh host again: the empty policy.
	if err := os.Remove(filepath.Join(d.Path(), PolicyFileName)); err != nil {
		t.Fatal(err)
	}
	c, _, err = w.Current()
	if err != nil || c.Decide(get("host1.example.com"), policy.Pins{}).Allow {
		t.Fatalf("after removal: %v", err)
	}
}

// An in-place rewrite keeping the inode (not how we write, but an
// operator's editor might) is still noticed through size/mtime.
func TestWatcherNoticesInPlaceEdit(t *testing.T) {
	d := newDir(t)
	w := NewWatcher(d)
	if _, err := d.ReplacePolicy(context.Background(), policyN(1)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Current(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(d.Path(), PolicyFileName)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"schema_version":1}`)
	_ = f.Close()
	future := time.Now().Add(time.Hour)
	_ = os.Chtimes(p, future, future)
	if c, _, err := w.Current(); err == nil || c != nil {
		t.Fatal("in-place corruption not noticed")
	}
}

func TestCorruptPinsDenyAll(t *testing.T) {
	d := newDir(t)
	if _, err := d.ReplacePolicy(context.Background(), policyN(1)); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, d, PinsFileName, `{"schema_version":1,"updated_at":"2026-03-01T12:00:00Z","claude_token_sha256":"not-a-hash"}`)
	c, _, err := NewWatcher(d).Current()
	if err == nil || c != nil {
		t.Fatalf("invalid pins: %v", err)
	}
	if err := d.Validity(); err == nil {
		t.Fatal("Validity ignores invalid pins")
	}
}
