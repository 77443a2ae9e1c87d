package proxystate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

func TestFreshDirectoryHasTheEmptyPolicy(t *testing.T) {
	d := newDir(t)
	doc := d.ReadPolicy()
	if doc.Error != "" || doc.Policy == nil || len(doc.Policy.Allowed) != 0 || !doc.UpdatedAt.IsZero() {
		t.Fatalf("fresh doc = %+v", doc)
	}
	c, pins, err := NewWatcher(d).Current()
	if err != nil || c == nil || pins != (policy.Pins{}) {
		t.Fatalf("Current on a fresh dir: %v %v %v", c, pins, err)
	}
	if d := c.Decide(policy.Request{Scheme: "https", Method: "GET", Host: "example.com", Port: 443, HostHeader: "example.com", Target: "/"}, pins); d.Allow {
		t.Fatal("the empty policy allowed a request")
	}
	if err := d.Validity(); err != nil {
		t.Fatalf("fresh dir invalid: %v", err)
	}
}

func TestReplacePolicyWritesTheDocumentedFile(t *testing.T) {
	d := newDir(t)
	doc, err := d.ReplacePolicy(context.Background(), []byte(`{"allowed_network_access":{"API.Example.com.":{"allow_http_methods":["GET"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !doc.UpdatedAt.Equal(fixedNow) || doc.Policy == nil {
		t.Fatalf("doc = %+v", doc)
	}
	if _, ok := doc.Policy.Allowed["api.example.com"]; !ok {
		t.Fatalf("not normalised: %+v", doc.Policy.Allowed)
	}
	b, err := os.ReadFile(filepath.Join(d.Path(), PolicyFileName))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw["schema_version"]) != "1" || string(raw["updated_at"]) != `"2026-03-01T12:00:00Z"` {
		t.Fatalf("envelope = %s", b)
	}
	var inner map[string]any
	if err := json.Unmarshal(raw["policy"], &inner); err != nil || inner["allowed_network_access"] == nil {
		t.Fatalf("policy = %s", raw["policy"])
	}
	fi, _ := os.Stat(filepath.Join(d.Path(), PolicyFileName))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	got := d.ReadPolicy()
	if got.Error != "" || !got.UpdatedAt.Equal(fixedNow) || len(got.Policy.Allowed) != 1 {
		t.Fatalf("read back %+v", got)
	}
	assertNoTempFiles(t, d)
}

func TestReplacePolicyRejectsInvalidAndKeepsTheOld(t *testing.T) {
	d := newDir(t)
	if _, err := d.ReplacePolicy(context.Background(), policyN(1)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(d.Path(), PolicyFileName))
	for _, bad := range []string{
		`{"allowed_network_access":{"10.0.0.1":{"allow_http_methods":["GET"]}}}`,
		`{"allowed_network_access":{},"extra":true}`,
		`not json`,
		``,
	} {
		_, err := d.ReplacePolicy(context.Background(), []byte(bad))
		var ve *policy.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("ReplacePolicy(%q) = %v, want a *policy.ValidationError", bad, err)
		}
	}
	after, _ := os.ReadFile(filepath.Join(d.Path(), PolicyFileName))
	if string(before) != string(after) {
		t.Fatal("a rejected replacement changed the live file")
	}
	assertNoTempFiles(t, d)
}

func TestReplacePolicyHonoursContext(t *testing.T) {
	d := newDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.ReplacePolicy(ctx, policyN(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.Path(), PolicyFileName)); !os.IsNotExist(err) {
		t.Fatal("a cancelled replacement wrote the file")
	}
}

func TestCorruptPolicyFileDeniesAllAndStatusSaysWhy(t *testing.T) {
	cases := map[string]string{
		"garbage":            `{{{`,
		"truncated":          `{"schema_version":1,"updated_at":"2026-03-01T12:00:00Z","policy":{"allowed_network_access":{`,
		"invalid policy":     `{"schema_version":1,"updated_at":"2026-03-01T12:00:00Z","policy":{"allowed_network_access":{"*.com":{"allow_http_methods":["GET"]}}}}`,
		"no version":         `{"updated_at":"2026-03-01T12:00:00Z","policy":{"allowed_network_access":{}}}`,
		"version zero":       `{"schema_version":0,"updated_at":"2026-03-01T12:00:00Z","policy":{"allowed_network_access":{}}}`,
		"unknown field":      `{"schema_version":1,"updated_at":"2026-03-01T12:00:00Z","policy":{"allowed_network_access":{}},"x":1}`,
		"missing policy":     `{"schema_version":1,"updated_at":"2026-03-01T12:00:00Z"}`,
		"missing updated_at": `{"schema_version":1,"policy":{"allowed_network_access":{}}}`,
		"empty file":         ``,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			d := newDir(t)
			w := NewWatcher(d)
			if _, err := d.ReplacePolicy(context.Background(), []byte(`{"allowed_network_access":{"ok.example.com":{"allow_http_methods":["GET"]}}}`)); err != nil {
				t.Fatal(err)
			}
			if c, _, err := w.Current(); err != nil || c == nil {
				t.Fatalf("valid policy: %v", err)
			}
			writeRaw(t, d, PolicyFileName, content)
			c, _, err := w.Current()
			if err == nil || c != nil {
				t.Fatalf("corrupt policy gave compiled=%v err=%v", c, err)
			}
			lc := NewLocalClient(d, func() bool { return true }, nil)
			st, err := lc.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.PolicyValid || st.PolicyError == "" || st.Active() {
				t.Fatalf("status %+v", st)
			}
			doc, _ := lc.ReadPolicy(context.Background())
			if doc.Policy != nil || doc.Error == "" {
				t.Fatalf("doc %+v", doc)
			}
			// The operator fixes it with a replacement.
			if _, err := d.ReplacePolicy(context.Background(), policyN(2)); err != nil {
				t.Fatal(err)
			}
			if c, _, err := w.Current(); err != nil || c == nil {
				t.Fatalf("after repair: %v", err)
			}
		})
	}
}

func TestNewerSchemaIsRefusedAndNeverRewritten(t *testing.T) {
	d := newDir(t)
	newer := `{"schema_version":2,"updated_at":"2027-01-01T00:00:00Z","policy":{"allowed_network_access":{},"new_feature":true}}`
	writeRaw(t, d, PolicyFileName, newer)
	_, _, err := NewWatcher(d).Current()
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "upgrade hostd") {
		t.Fatalf("Current = %v", err)
	}
	if _, err := d.ReplacePolicy(context.Background(), policyN(1)); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("ReplacePolicy over a newer file = %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(d.Path(), PolicyFileName))
	if string(b) != newer {
		t.Fatal("the newer file was rewritten")
	}
	if doc := d.ReadPolicy(); doc.Error == "" || doc.Policy != nil {
		t.Fatalf("doc %+v", doc)
	}

	newerPins := `{"schema_version":3,"updated_at":"2027-01-01T00:00:00Z"}`
	writeRaw(t, d, PinsFileName, newerPins)
	if err := d.SetPin(context.Background(), "openai", "acct"); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("SetPin over newer pins = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(d.Path(), PinsFileName)); string(b) != newerPins {
		t.Fatal("newer pins rewritten")
	}
}

func assertNoTempFiles(t *testing.T, d *Dir) {
	t.Helper()
	entries, err := os.ReadDir(d.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temp file left behind: %s", e.Name())
		}
	}
}
