package proxystate

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return fixedNow }

func newDir(t *testing.T) *Dir {
	t.Helper()
	return NewDir(t.TempDir(), fixedClock)
}

// policyN is a valid policy that differs for every n.
func policyN(n int) []byte {
	return fmt.Appendf(nil, `{"allowed_network_access":{"host%d.example.com":{"allow_http_methods":["GET"]}}}`, n)
}

func writeRaw(t *testing.T, d *Dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(d.Path(), name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
