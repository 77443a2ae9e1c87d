package proxystate

import (
	"context"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// BenchmarkWatcherCurrent measures what the proxy pays per request to stay
// current (two stat calls, no re-read when nothing changed) against the
// decision itself, and the cost of a reload after a replacement.
func BenchmarkWatcherCurrent(b *testing.B) {
	d := NewDir(b.TempDir(), nil)
	if _, err := d.ReplacePolicy(context.Background(), []byte(`{"allowed_network_access":{"*.example.com":{"allow_http_methods":["GET"]}}}`)); err != nil {
		b.Fatal(err)
	}
	w := NewWatcher(d)
	r := policy.Request{Scheme: "https", Method: "GET", Host: "a.example.com", Port: 443, HostHeader: "a.example.com", Target: "/"}
	const per = 20000
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for j := 0; j < per; j++ {
			if _, _, err := w.Current(); err != nil {
				b.Fatal(err)
			}
		}
		cur := float64(time.Since(start).Nanoseconds()) / per
		c, pins, _ := w.Current()
		start = time.Now()
		for j := 0; j < per; j++ {
			_ = c.Decide(r, pins)
		}
		dec := float64(time.Since(start).Nanoseconds()) / per
		start = time.Now()
		const reloads = 50
		for j := 0; j < reloads; j++ {
			if _, err := d.ReplacePolicy(context.Background(), policyN(j)); err != nil {
				b.Fatal(err)
			}
			if _, _, err := w.Current(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(cur, "ns/current")
		b.ReportMetric(dec, "ns/decide")
		b.ReportMetric(cur/dec, "x_current_vs_decide")
		b.ReportMetric(float64(time.Since(start).Microseconds())/reloads, "us/replace+reload")
	}
}

// BenchmarkEventLogRecord: 4 goroutines record 20,000 decisions as the
// proxy would; reports Record latency percentiles (the proxy's hot-path
// cost), sustained events/s until everything is committed, and the ratio
// of p99 Record latency to a synchronous one-row commit.
func BenchmarkEventLogRecord(b *testing.B) {
	for i := 0; i < b.N; i++ {
		ctx := context.Background()
		l, err := OpenEventLog(ctx, filepath.Join(b.TempDir(), EventsFileName), EventLogOptions{})
		if err != nil {
			b.Fatal(err)
		}
		const workers, per = 4, 5000
		lat := make([][]time.Duration, workers)
		var wg sync.WaitGroup
		start := time.Now()
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := ev("bench.example.com")
				e.Path = "/v1/responses"
				for j := 0; j < per; j++ {
					t0 := time.Now()
					l.Record(e)
					lat[g] = append(lat[g], time.Since(t0))
				}
			}()
		}
		wg.Wait()
		if err := l.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		var all []time.Duration
		for _, l := range lat {
			all = append(all, l...)
		}
		sort.Slice(all, func(a, c int) bool { return all[a] < all[c] })
		p50, p99 := all[len(all)/2], all[len(all)*99/100]
		// A synchronous single-event commit, for comparison.
		t0 := time.Now()
		const syncN = 50
		for j := 0; j < syncN; j++ {
			if err := l.writeOnce(all2events(1)); err != nil {
				b.Fatal(err)
			}
		}
		syncCommit := time.Since(t0) / syncN
		if n, _ := l.Count(ctx); n != DefaultKeepEvents {
			b.Fatalf("count %d", n)
		}
		_ = l.Close()
		b.ReportMetric(float64(p50.Nanoseconds()), "ns/record_p50")
		b.ReportMetric(float64(p99.Nanoseconds()), "ns/record_p99")
		b.ReportMetric(float64(workers*per)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(syncCommit.Nanoseconds()), "ns/sync_commit")
		b.ReportMetric(float64(syncCommit)/float64(p99), "x_sync_commit_vs_record_p99")
	}
}

func all2events(n int) []netstate.Event {
	out := make([]netstate.Event, n)
	for i := range out {
		out[i] = capEvent(ev("sync.example.com"))
		out[i].Timestamp = time.Now()
	}
	return out
}
