// Package latency is benchmark support: it runs an operation from several
// concurrent clients and reports percentiles of the measured latencies.
// Only benchmarks import it.
package latency

import (
	"slices"
	"sync"
	"time"
)

// Load runs fn from clients goroutines, n times each, and returns every
// latency sorted ascending. The first error stops that client and is
// returned after all clients finished.
func Load(clients, n int, fn func(client, i int) error) ([]time.Duration, error) {
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	for c := range clients {
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
		return nil, err
	}
	slices.Sort(all)
	return all, nil
}

// Ms is the p-th percentile (0–100) of sorted latencies, in milliseconds;
// 0 for none.
func Ms(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := len(sorted) * p / 100
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i].Microseconds()) / 1000
}
