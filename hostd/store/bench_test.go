package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// createLatencies creates n tasks from `clients` goroutines against a
// fresh store and returns every call's latency, sorted.
func createLatencies(b *testing.B, opts Options, clients, n int) []time.Duration {
	b.Helper()
	opts.Limits.QueuedTasks = n + 1
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "admin.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	ctx := context.Background()
	for c := range clients {
		wg.Go(func() {
			for i := c; i < n; i += clients {
				start := time.Now()
				_, err := s.CreateTask(ctx, NewTask{Runtime: agentrt.Codex, ThreadID: fmt.Sprintf("th-%d", i%50), Input: "benchmark task input"})
				lat[i] = time.Since(start)
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	ws := s.WriterStats()
	b.Logf("MaxBatch %d: %d ops in %d batches (%.1f per batch)", opts.MaxBatch, ws.Ops, ws.Batches, float64(ws.Ops)/float64(ws.Batches))
	slices.Sort(lat)
	return lat
}

func pct(lat []time.Duration, p float64) float64 {
	return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000
}

// BenchmarkCreateTask16Clients measures task create (durable commit:
// WAL + synchronous=FULL) at 16 concurrent clients, with group commit and
// with it turned off (MaxBatch 1), side by side in one run. One iteration
// is a complete measurement of 2,000 creates per mode.
func BenchmarkCreateTask16Clients(b *testing.B) {
	const clients, n = 16, 2000
	for range b.N {
		group := createLatencies(b, Options{}, clients, n)
		single := createLatencies(b, Options{MaxBatch: 1}, clients, n)
		b.ReportMetric(pct(group, 0.50), "group-p50-ms")
		b.ReportMetric(pct(group, 0.99), "group-p99-ms")
		b.ReportMetric(pct(single, 0.50), "single-p50-ms")
		b.ReportMetric(pct(single, 0.99), "single-p99-ms")
		b.ReportMetric(pct(single, 0.50)/pct(group, 0.50), "p50-speedup-x")
	}
}

// BenchmarkEventsPage measures reading a page of 100 events from the
// middle of a full (10,000-event) log.
func BenchmarkEventsPage(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "admin.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.write(ctx, func(tx *wtx) error {
		for range tasks.MaxEvents {
			if err := s.appendEvent(tx, tasks.EventRuntimeActive, "", []byte(`{"agent_runtime":"codex"}`)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Events(ctx, tasks.EventQuery{Since: int64(i % 9000), Limit: 100}); err != nil {
			b.Fatal(err)
		}
	}
}
