package benchtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/internal/devproc"
	"github.com/trustyclaw/trustyclaw/hostd/internal/latency"
)

const (
	benchClients   = 16
	benchCreates   = 50  // per client: 800 tasks stay under the 1,000 queue cap
	benchReads     = 100 // per client, for list and for event paging
	benchPageLimit = 5
)

// BenchmarkHostdDevStartup: exec of `hostd dev` to the first 200 from
// GET /v1/health, polled every millisecond. The first start creates the
// state directory (admin store, proxy store, CA key); the later ones
// reopen it. One iteration is 1 first start + 5 restarts.
func BenchmarkHostdDevStartup(b *testing.B) {
	devproc.Build(b)
	for range b.N {
		opts := devproc.Options{StateDir: filepath.Join(b.TempDir(), "state"), Password: randomPassword(), ReadyPoll: time.Millisecond}
		begin := time.Now()
		p := devproc.Start(b, opts)
		first := time.Since(begin)
		if err := p.Stop(); err != nil {
			b.Fatalf("stop: %v", err)
		}
		var again []time.Duration
		for range 5 {
			begin := time.Now()
			p := devproc.Start(b, opts)
			again = append(again, time.Since(begin))
			if err := p.Stop(); err != nil {
				b.Fatalf("stop: %v", err)
			}
		}
		slices.Sort(again)
		b.ReportMetric(float64(first.Microseconds())/1000, "first_start_ms")
		b.ReportMetric(float64(again[len(again)/2].Microseconds())/1000, "restart_p50_ms")
		b.ReportMetric(float64(again[len(again)-1].Microseconds())/1000, "restart_max_ms")
	}
}

// BenchmarkHostdDevAPILatency: the admin API of the real binary over
// loopback HTTP (keep-alive, bearer auth, durable commits), 16 concurrent
// clients, the same load as adminapi's BenchmarkAdminAPILatency: 800
// creates (16 × 50), 1,600 list pages and 1,600 event pages (limit 5; half
// the list pages after a random task, event pages at a random since), then
// 100 creates and 200 event pages from one client. No runtime is active, so tasks stay
// queued and only the API and the store are measured.
func BenchmarkHostdDevAPILatency(b *testing.B) {
	devproc.Build(b)
	for range b.N {
		p := devproc.Start(b, devproc.Options{StateDir: filepath.Join(b.TempDir(), "state"), Password: randomPassword()})
		a := newAPI(p, benchClients)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)

		var idsMu sync.Mutex
		var ids []string
		pick := func() string {
			idsMu.Lock()
			defer idsMu.Unlock()
			return ids[rand.IntN(len(ids))]
		}
		create := load(b, benchClients, benchCreates, func(c, i int) error {
			body, err := a.do(ctx, "POST", "/v1/tasks", map[string]string{
				"agent_runtime": "codex", "thread_id": fmt.Sprintf("bench-%d", c), "input_message": fmt.Sprintf("task %d of client %d", i, c)})
			if err != nil {
				return err
			}
			var t struct {
				ID string `json:"task_id"`
			}
			if err := json.Unmarshal(body, &t); err != nil || t.ID == "" {
				return fmt.Errorf("create answered %s", body)
			}
			idsMu.Lock()
			ids = append(ids, t.ID)
			idsMu.Unlock()
			return nil
		})
		list := load(b, benchClients, benchReads, func(c, i int) error {
			path := fmt.Sprintf("/v1/tasks?limit=%d", benchPageLimit)
			if i%2 == 1 {
				path += "&last_seen_task_id=" + pick()
			}
			_, err := a.do(ctx, "GET", path, nil)
			return err
		})
		events := load(b, benchClients, benchReads, func(c, i int) error {
			_, err := a.do(ctx, "GET", fmt.Sprintf("/v1/events?since=%d&limit=%d", rand.IntN(len(ids)), benchPageLimit), nil)
			return err
		})
		// One client alone: the fixed cost of a create (HTTP, auth,
		// idempotency record, durable commits) without queueing.
		single := load(b, 1, 100, func(c, i int) error {
			_, err := a.do(ctx, "POST", "/v1/tasks", map[string]string{
				"agent_runtime": "codex", "thread_id": "bench-single", "input_message": fmt.Sprintf("task %d", i)})
			return err
		})
		singleEvents := load(b, 1, 200, func(c, i int) error {
			_, err := a.do(ctx, "GET", fmt.Sprintf("/v1/events?since=%d&limit=%d", rand.IntN(len(ids)), benchPageLimit), nil)
			return err
		})
		cancel()
		a.close()
		for _, m := range []struct {
			name string
			d    []time.Duration
		}{{"create", create}, {"list", list}, {"events", events}, {"create_1client", single}, {"events_1client", singleEvents}} {
			b.ReportMetric(latency.Ms(m.d, 50), m.name+"_p50_ms")
			b.ReportMetric(latency.Ms(m.d, 99), m.name+"_p99_ms")
		}
		if err := p.Stop(); err != nil {
			b.Fatalf("stop: %v", err)
		}
	}
}

// BenchmarkHostdDevRSS: resident memory of the hostd process (VmRSS from
// /proc/<pid>/status; agent processes are separate and not counted) once
// start-up has settled, and again after the fake Codex produced 10,000
// agent messages (20 turns × 500, three at a time), plus the peak
// (VmHWM).
func BenchmarkHostdDevRSS(b *testing.B) {
	devproc.Build(b)
	fake := devproc.BuildCommand(b, fakeCodexPkg)
	const turns, perTurn = 20, 500
	for range b.N {
		p := devproc.Start(b, devproc.Options{StateDir: filepath.Join(b.TempDir(), "state"), Password: randomPassword(),
			Args: []string{"--codex-bin", fake}})
		idle := settledRSS(b, p.PID())
		a := newAPI(p, 4)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		if _, err := a.do(ctx, "PUT", "/v1/network/policy", json.RawMessage(`{"managed_ai_provider_network_access":{"openai":true},"allowed_network_access":{}}`)); err != nil {
			b.Fatal(err)
		}
		begin := time.Now()
		var ids []string
		for i := range turns {
			body, err := a.do(ctx, "POST", "/v1/tasks", map[string]string{
				"agent_runtime": "codex", "thread_id": fmt.Sprintf("rss-%d", i), "input_message": fmt.Sprintf("rss-%d msgs=%d", i, perTurn)})
			if err != nil {
				b.Fatal(err)
			}
			var t struct {
				ID string `json:"task_id"`
			}
			_ = json.Unmarshal(body, &t)
			ids = append(ids, t.ID)
		}
		for _, id := range ids {
			for {
				body, err := a.do(ctx, "GET", "/v1/tasks/"+id, nil)
				if err != nil {
					b.Fatal(err)
				}
				var t struct{ Status string }
				_ = json.Unmarshal(body, &t)
				if t.Status == "completed" {
					break
				}
				if t.Status == "failed" || t.Status == "cancelled" {
					b.Fatalf("task %s: %s", id, body)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		took := time.Since(begin)
		var last struct{ Events []struct{ Seq int64 } }
		body, err := a.do(ctx, "GET", "/v1/events?since=0&limit=1", nil)
		if err != nil || json.Unmarshal(body, &last) != nil {
			b.Fatalf("events: %v %s", err, body)
		}
		cancel()
		a.close()
		loaded := settledRSS(b, p.PID())
		hwm, err := procStatusKB(p.PID(), "VmHWM")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(idle, "idle_rss_MB")
		b.ReportMetric(loaded, "after_10k_events_rss_MB")
		b.ReportMetric(float64(hwm)/1024, "peak_rss_MB")
		b.ReportMetric(float64(turns*perTurn)/took.Seconds(), "agent_events_per_s")
		if err := p.Stop(); err != nil {
			b.Fatalf("stop: %v", err)
		}
	}
}
