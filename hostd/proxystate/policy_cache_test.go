package proxystate

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// An unchanged policy file is parsed once; a replaced or corrupted one is
// read afresh, so the cache never serves a stale or invalid policy.
func TestReadPolicyParsesAnUnchangedFileOnce(t *testing.T) {
	d := newDir(t)
	ctx := context.Background()
	if _, err := d.ReplacePolicy(ctx, []byte(`{"allowed_network_access":{"a.example.com":{"allow_http_methods":["GET"]}}}`)); err != nil {
		t.Fatal(err)
	}
	first := d.ReadPolicy()
	second := d.ReadPolicy()
	if first.Policy == nil || first.Policy != second.Policy {
		t.Fatalf("an unchanged file was parsed again (%p, %p)", first.Policy, second.Policy)
	}
	if _, err := d.ReplacePolicy(ctx, []byte(`{"allowed_network_access":{"b.example.com":{"allow_http_methods":["GET"]}}}`)); err != nil {
		t.Fatal(err)
	}
	third := d.ReadPolicy()
	if third.Policy == nil || third.Policy == first.Policy {
		t.Fatal("a replaced policy was served from the cache")
	}
	if _, ok := third.Policy.Allowed["b.example.com"]; !ok {
		t.Fatalf("read %v after the replace", third.Policy.Allowed)
	}
	if err := os.WriteFile(filepath.Join(d.path, PolicyFileName), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if doc := d.ReadPolicy(); doc.Policy != nil || doc.Error == "" {
		t.Fatalf("a corrupt file read as %+v", doc)
	}
	if err := d.Validity(); err == nil {
		t.Fatal("a corrupt file is valid")
	}
}
