package ca

import (
	"crypto/x509"
	"fmt"
	"sync"
	"testing"
	"time"
)

func newCA(t *testing.T) *Authority {
	t.Helper()
	a, err := LoadOrCreate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestLeafVerifiesForItsHostOnly(t *testing.T) {
	a := newCA(t)
	c := NewLeafCache(a, 10, nil)
	cert, err := c.Get("api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.Certificate())
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "api.example.com", Roots: roots}); err != nil {
		t.Fatalf("leaf does not verify for its host: %v", err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "evil.example.com", Roots: roots}); err == nil {
		t.Fatal("leaf verifies for another host")
	}
}

func TestLeafRefusedForIPLiteralAndEmptyName(t *testing.T) {
	c := NewLeafCache(newCA(t), 10, nil)
	for _, h := range []string{"", "127.0.0.1", "::1", "169.254.169.254"} {
		if _, err := c.Get(h); err == nil {
			t.Errorf("Get(%q) minted a leaf", h)
		}
	}
}

func TestConcurrentFirstRequestsShareOneMint(t *testing.T) {
	c := NewLeafCache(newCA(t), 10, nil)
	var wg sync.WaitGroup
	certs := make([][]byte, 32)
	for i := range certs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cert, err := c.Get("shared.example.com")
			if err != nil {
				t.Error(err)
				return
			}
			certs[i] = cert.Certificate[0]
		}()
	}
	wg.Wait()
	if c.Mints() != 1 {
		t.Fatalf("mints = %d, want 1", c.Mints())
	}
	for _, der := range certs[1:] {
		if string(der) != string(certs[0]) {
			t.Fatal("concurrent callers got different leaves")
		}
	}
}

func TestWildcardSubdomainFloodKeepsLeafCacheBounded(t *testing.T) {
	c := NewLeafCache(newCA(t), 50, nil)
	for i := range 200 {
		if _, err := c.Get(fmt.Sprintf("x%d.flood.example.com", i)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 50 {
		t.Fatalf("cache holds %d leaves, want the bound 50", c.Len())
	}
	// The most recent survive, the oldest were evicted and are re-minted.
	before := c.Mints()
	if _, err := c.Get("x199.flood.example.com"); err != nil {
		t.Fatal(err)
	}
	if c.Mints() != before {
		t.Fatal("recent leaf was not served from the cache")
	}
	if _, err := c.Get("x0.flood.example.com"); err != nil {
		t.Fatal(err)
	}
	if c.Mints() != before+1 {
		t.Fatal("evicted leaf was not re-minted")
	}
}

func TestLeafNearExpiryIsReminted(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	c := NewLeafCache(newCA(t), 10, clock)
	first, err := c.Get("renew.example.com")
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(leafValidity - leafRenewBefore/2)
	second, err := c.Get("renew.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if first == second || c.Mints() != 2 {
		t.Fatalf("leaf close to expiry was not re-minted (mints=%d)", c.Mints())
	}
	if !second.Leaf.NotAfter.After(now.Add(leafRenewBefore)) {
		t.Fatal("re-minted leaf is not fresh")
	}
}
