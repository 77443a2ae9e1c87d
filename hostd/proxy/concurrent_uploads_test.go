package proxy

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// 200 clients upload large bodies to a guarded host at once (each body
// must be buffered for inspection). The global budget keeps the buffered
// total bounded: requests wait for budget and either pass or get 503,
// never push memory past the budget.
func TestConcurrentLargeUploadsStayWithinMemoryBudget(t *testing.T) {
	const (
		clients = 200
		size    = 512 << 10
		budget  = 12 << 20
	)
	l := testLimits()
	l.MemoryBudget = budget
	e := startProxy(t, openAIPolicy, withLimits(l))
	e.policy.setPins(policy.Pins{OpenAIAccountID: "acct-pinned"})
	up := tlsUpstream(t, e.uca, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	e.p.cfg.DevUpstreams = map[string]string{"api.openai.com": up.Listener.Addr().String()}

	body := append([]byte(`{"input":"`), bytes.Repeat([]byte("a"), size)...)
	body = append(body, `"}`...)
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{Proxy: e.client().Transport.(*http.Transport).Proxy, TLSClientConfig: e.client().Transport.(*http.Transport).TLSClientConfig}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("POST", "https://api.openai.com/v1/responses", bytes.NewReader(body))
			req.Header.Set("chatgpt-account-id", "acct-pinned")
			resp, err := (&http.Client{Transport: tr}).Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[-1]++
				return
			}
			resp.Body.Close()
			statuses[resp.StatusCode]++
		}()
	}
	wg.Wait()
	// A handler returns its budget just after the client has the last
	// byte of the response, so give the last ones a moment.
	used, peak := e.p.BudgetStats()
	for deadline := time.Now().Add(5 * time.Second); used != 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		used, peak = e.p.BudgetStats()
	}
	if used != 0 {
		t.Fatalf("budget leaked: %d bytes still held", used)
	}
	if peak > budget {
		t.Fatalf("peak buffered %d > budget %d", peak, budget)
	}
	if peak < 2*size {
		t.Fatalf("peak %d: the uploads did not actually run concurrently", peak)
	}
	if statuses[200]+statuses[503] != clients {
		t.Fatalf("statuses %v: every upload must pass or get 503", statuses)
	}
	if statuses[200] == 0 {
		t.Fatalf("no upload passed: %v", statuses)
	}
	t.Logf("statuses %v, peak buffered %d MiB", statuses, peak>>20)
}
