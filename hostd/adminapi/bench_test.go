package adminapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

const (
	benchClients   = 16
	benchCreates   = 50  // per client: 800 tasks stay under the 1,000 queue cap
	benchReads     = 100 // per client, for list and for event paging
	benchPageLimit = 5
)

func pick(mu *sync.Mutex, ids []string) string {
	mu.Lock()
	defer mu.Unlock()
	return ids[rand.IntN(len(ids))]
}

// percentile of sorted durations, in milliseconds.
func percentile(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	i := len(d) * p / 100
	if i >= len(d) {
		i = len(d) - 1
	}
	return float64(d[i].Microseconds()) / 1000
}

// load runs fn from benchClients goroutines, n times each, and returns the
// sorted latencies.
func load(b *testing.B, n int, fn func(client, i int) error) []time.Duration {
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	errc := make(chan error, benchClients)
	for c := range benchClients {
		wg.Go(func() {
			local := make([]time.Duration, 0, n)
			for i := range n {
				start := time.Now()
				if err := fn(c, i); err != nil {
					errc <- err
					return
				}
				local = append(local, time.Since(start))
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	slices.Sort(all)
	return all
}

// BenchmarkAdminAPILatency measures, over real HTTP on loopback with 16
// concurrent clients and durable commits (real store and orchestrator,
// runtimes not active so tasks stay queued), p50/p99 of task create
// (bearer auth + Idempotency-Key record + task commit), task list and
// event paging — each side by side with the same call made directly on
// the orchestrator (creates on a second, fresh stack), so <op>_http_vs_direct_x
// is what HTTP, auth, validation, idempotency records and JSON add (ratio
// of the p50s). One iteration is a complete measurement.
func BenchmarkAdminAPILatency(b *testing.B) {
	for range b.N {
		s := newStack(b, agentrt.StatusAwaitingLogin)
		direct := newStack(b, agentrt.StatusAwaitingLogin)
		ctx := context.Background()

		var idsMu sync.Mutex
		var ids []string
		create := load(b, benchCreates, func(c, i int) error {
			body := fmt.Sprintf(`{"agent_runtime":"codex","thread_id":"bench-%d","input_message":"task %d of client %d"}`, c, i, c)
			r := s.do("POST", "/v1/tasks", body, fmt.Sprintf("bench-%d-%d", c, i))
			if r.status != 200 {
				return fmt.Errorf("create: %d %s", r.status, r.body)
			}
			var t struct {
				ID string `json:"task_id"`
			}
			_ = json.Unmarshal(r.body, &t)
			idsMu.Lock()
			ids = append(ids, t.ID)
			idsMu.Unlock()
			return nil
		})
		directCreate := load(b, benchCreates, func(c, i int) error {
			_, err := direct.orch.Create(ctx, agentrt.Codex, fmt.Sprintf("bench-%d", c), fmt.Sprintf("task %d of client %d", i, c))
			return err
		})
		list := load(b, benchReads, func(c, i int) error {
			path := fmt.Sprintf("/v1/tasks?limit=%d", benchPageLimit)
			if i%2 == 1 {
				path += "&last_seen_task_id=" + pick(&idsMu, ids)
			}
			if r := s.do("GET", path, "", ""); r.status != 200 {
				return fmt.Errorf("list: %d %s", r.status, r.body)
			}
			return nil
		})
		directList := load(b, benchReads, func(c, i int) error {
			last := ""
			if i%2 == 1 {
				last = pick(&idsMu, ids)
			}
			_, err := s.orch.ListActive(ctx, last, benchPageLimit)
			return err
		})
		events := load(b, benchReads, func(c, i int) error {
			path := fmt.Sprintf("/v1/events?since=%d&limit=%d", rand.IntN(len(ids)), benchPageLimit)
			if r := s.do("GET", path, "", ""); r.status != 200 {
				return fmt.Errorf("events: %d %s", r.status, r.body)
			}
			return nil
		})
		directEvents := load(b, benchReads, func(c, i int) error {
			_, err := s.orch.Events(ctx, tasks.EventQuery{Since: int64(rand.IntN(len(ids))), Limit: benchPageLimit})
			return err
		})

		// One client alone: the fixed per-request cost without queueing.
		var single []time.Duration
		for range 200 {
			start := time.Now()
			if r := s.do("GET", fmt.Sprintf("/v1/events?since=%d&limit=%d", rand.IntN(len(ids)), benchPageLimit), "", ""); r.status != 200 {
				b.Fatalf("events: %d", r.status)
			}
			single = append(single, time.Since(start))
		}
		slices.Sort(single)
		b.ReportMetric(percentile(single, 50), "events_1client_p50_ms")
		b.ReportMetric(percentile(single, 99), "events_1client_p99_ms")

		for _, m := range []struct {
			name         string
			http, direct []time.Duration
		}{{"create", create, directCreate}, {"list", list, directList}, {"events", events, directEvents}} {
			b.ReportMetric(percentile(m.http, 50), m.name+"_p50_ms")
			b.ReportMetric(percentile(m.http, 99), m.name+"_p99_ms")
			b.ReportMetric(percentile(m.direct, 50), m.name+"_direct_p50_ms")
			b.ReportMetric(percentile(m.direct, 99), m.name+"_direct_p99_ms")
			b.ReportMetric(percentile(m.http, 50)/max(percentile(m.direct, 50), 0.001), m.name+"_http_vs_direct_x")
		}
		s.stop()
		direct.stop()
	}
}
