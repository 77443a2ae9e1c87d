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
	"github.com/trustyclaw/trustyclaw/hostd/internal/latency"
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

// load runs fn from benchClients goroutines, n times each, and returns the
// sorted latencies.
func load(b *testing.B, n int, fn func(client, i int) error) []time.Duration {
	b.Helper()
	d, err := latency.Load(benchClients, n, fn)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

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
		b.ReportMetric(latency.Ms(single, 50), "events_1client_p50_ms")
		b.ReportMetric(latency.Ms(single, 99), "events_1client_p99_ms")

		for _, m := range []struct {
			name         string
			http, direct []time.Duration
		}{{"create", create, directCreate}, {"list", list, directList}, {"events", events, directEvents}} {
			b.ReportMetric(latency.Ms(m.http, 50), m.name+"_p50_ms")
			b.ReportMetric(latency.Ms(m.http, 99), m.name+"_p99_ms")
			b.ReportMetric(latency.Ms(m.direct, 50), m.name+"_direct_p50_ms")
			b.ReportMetric(latency.Ms(m.direct, 99), m.name+"_direct_p99_ms")
			b.ReportMetric(latency.Ms(m.http, 50)/max(latency.Ms(m.direct, 50), 0.001), m.name+"_http_vs_direct_x")
		}
		s.stop()
		direct.stop()
	}
}
