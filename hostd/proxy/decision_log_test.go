package proxy

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A flood of denials reaches the network event log in full, while the
// process log's copy is capped per second, so an agent cannot flood the
// journal.
func TestDenialFloodIsCappedInTheProcessLogOnly(t *testing.T) {
	var out lockedBuffer
	e := startProxy(t, policyJSON(twoHostsPolicy), func(c *Config) { c.Logger = zerolog.New(&out) })
	const n = 3 * decisionLogBurst
	start := time.Now()
	for range n {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		resp := rawExchange(t, c, "CONNECT denied.invalid:443 HTTP/1.1\r\nHost: denied.invalid:443\r\n\r\n")
		c.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if got := len(e.events.all()); got != n {
		t.Fatalf("%d events recorded, want %d", got, n)
	}
	// At most one burst per started second (+1 for a boundary crossed).
	limit := decisionLogBurst * (int(time.Since(start)/time.Second) + 2)
	lines := strings.Count(out.String(), "proxy decision")
	if lines == 0 || lines > limit || lines >= n {
		t.Fatalf("%d decision lines logged for %d denials; want 1..%d", lines, n, min(limit, n-1))
	}
}
