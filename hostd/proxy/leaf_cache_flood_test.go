package proxy

import (
	"fmt"
	"testing"
)

// An agent visiting endless subdomains of an allowed wildcard cannot grow
// the leaf cache past its bound.
func TestWildcardSubdomainFloodKeepsLeafCacheBounded(t *testing.T) {
	e := startProxy(t, policyJSON(`"*.flood.example.test": {"allow_http_methods": ["GET"]}`), func(c *Config) { c.LeafCacheSize = 16 })
	for i := range 64 {
		host := fmt.Sprintf("n%d.flood.example.test", i)
		tc := e.tlsTunnel(host+":443", host)
		_ = tc.Close()
	}
	if n := e.p.LeafCacheLen(); n != 16 {
		t.Fatalf("leaf cache holds %d, want the bound 16", n)
	}
}
