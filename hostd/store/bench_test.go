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

const benchClients = 16

func benchStore(b *testing.B, opts Options) *Store {
	b.Helper()
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "admin.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// measure runs n calls of fn from benchClients goroutines and returns the
// sorted latencies.
func measure(b *testing.B, n int, fn func(i int) error) []time.Duration {
	b.Helper()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	for c := range benchClients {
		wg.Go(func() {
			for i := c; i < n; i += benchClients {
				start := time.Now()
				err := fn(i)
				lat[i] = time.Since(start)
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	return lat
}

func ms(lat []time.Duration, p float64) float64 {
	return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000
}

func newTask(i int) NewTask {
	return NewTask{Runtime: agentrt.Codex, ThreadID: fmt.Sprintf("th-%d", i%50), Input: "benchmark task input"}
}

// BenchmarkCreateTask16Clients measures task create (a durable commit:
// WAL + synchronous=FULL, fsync before return) at 16 concurrent clients,
// with group commit and with it off (MaxBatch 1), side by side. One
// iteration is a complete measurement of 2,000 creates per mode.
func BenchmarkCreateTask16Clients(b *testing.B) {
	const n = 2000
	ctx := context.Background()
	for range b.N {
		var res [2][]time.Duration
		var batch [2]float64
		for mode, maxBatch := range []int{0, 1} {
			s := benchStore(b, Options{MaxBatch: maxBatch, Limits: Limits{QueuedTasks: n + 1}})
			res[mode] = measure(b, n, func(i int) error {
				_, err := s.CreateTask(ctx, newTask(i))
				return err
			})
			ws := s.WriterStats()
			batch[mode] = float64(ws.Ops) / float64(ws.Batches)
		}
		b.ReportMetric(ms(res[0], 0.50), "group-p50-ms")
		b.ReportMetric(ms(res[0], 0.99), "group-p99-ms")
		b.ReportMetric(batch[0], "group-ops/commit")
		b.ReportMetric(ms(res[1], 0.50), "single-p50-ms")
		b.ReportMetric(ms(res[1], 0.99), "single-p99-ms")
		b.ReportMetric(ms(res[1], 0.50)/ms(res[0], 0.50), "p50-speedup-x")
	}
}

// BenchmarkIdempotentCreate16Clients measures what the admin API's task
// create costs in the store: reserve the Idempotency-Key, create the
// task, durably store the response (two commits), at 16 clients.
func BenchmarkIdempotentCreate16Clients(b *testing.B) {
	const n = 2000
	ctx := context.Background()
	for range b.N {
		s := benchStore(b, Options{Limits: Limits{QueuedTasks: n + 1}})
		lat := measure(b, n, func(i int) error {
			key := fmt.Sprintf("key-%d", i)
			if _, existing, err := s.BeginIdempotent(ctx, key, "POST", "/v1/tasks", time.Now()); err != nil || existing {
				return fmt.Errorf("begin: %v existing=%v", err, existing)
			}
			t, err := s.CreateTask(ctx, newTask(i))
			if err != nil {
				return err
			}
			return s.FinishIdempotent(ctx, key, 201, []byte(`{"task_id":"`+t.ID+`"}`))
		})
		b.ReportMetric(ms(lat, 0.50), "p50-ms")
		b.ReportMetric(ms(lat, 0.99), "p99-ms")
	}
}

// BenchmarkReads16Clients measures a page of the active list (5 tasks,
// with queue positions, 1,000 queued) and a page of events (5, from a
// random point of a full 10,000-event log) at 16 concurrent readers.
func BenchmarkReads16Clients(b *testing.B) {
	const n = 4000
	ctx := context.Background()
	for range b.N {
		s := benchStore(b, Options{})
		if err := s.write(ctx, func(tx *wtx) error {
			for i := range tasks.MaxQueuedTasks {
				if _, err := s.createTask(tx, newTask(i)); err != nil {
					return err
				}
			}
			for range tasks.MaxEvents {
				if err := s.appendEvent(tx, tasks.EventRuntimeActive, "", []byte(`{"agent_runtime":"codex"}`)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		last, _ := s.LastSeq(ctx)
		list := measure(b, n, func(i int) error {
			_, err := s.ListActive(ctx, "", 5)
			return err
		})
		events := measure(b, n, func(i int) error {
			_, err := s.Events(ctx, tasks.EventQuery{Since: last - int64(i*7919%tasks.MaxEvents), Limit: 5})
			return err
		})
		b.ReportMetric(ms(list, 0.50), "list-p50-ms")
		b.ReportMetric(ms(list, 0.99), "list-p99-ms")
		b.ReportMetric(ms(events, 0.50), "events-p50-ms")
		b.ReportMetric(ms(events, 0.99), "events-p99-ms")
	}
}
