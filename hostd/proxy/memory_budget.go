package proxy

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errBudgetExhausted: the global buffered-memory budget stayed full for
// the whole wait; the request is answered 503.
var errBudgetExhausted = errors.New("proxy memory budget exhausted")

// memoryBudget is a weighted semaphore over bytes, shared by every
// connection: bodies the proxy buffers (guard inspection, decoding,
// WebSocket message reassembly) acquire from it first, so many concurrent
// large uploads wait (then fail with 503) instead of growing the heap.
type memoryBudget struct {
	mu      sync.Mutex
	total   int64
	used    int64
	peak    int64
	waiters []*budgetWaiter // FIFO, so a large request is not starved
}

type budgetWaiter struct {
	n     int64
	ready chan struct{}
}

func newMemoryBudget(total int64) *memoryBudget { return &memoryBudget{total: total} }

// acquire takes n bytes, waiting at most wait. n larger than the whole
// budget fails at once.
func (m *memoryBudget) acquire(ctx context.Context, n int64, wait time.Duration) error {
	if n <= 0 {
		return nil
	}
	m.mu.Lock()
	if n > m.total {
		m.mu.Unlock()
		return errBudgetExhausted
	}
	if len(m.waiters) == 0 && m.used+n <= m.total {
		m.take(n)
		m.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	m.waiters = append(m.waiters, w)
	m.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	case <-t.C:
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-w.ready:
		// Granted while we were timing out: keep it.
		return nil
	default:
	}
	for i, x := range m.waiters {
		if x == w {
			m.waiters = append(m.waiters[:i], m.waiters[i+1:]...)
			break
		}
	}
	m.grantLocked()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errBudgetExhausted
}

func (m *memoryBudget) take(n int64) {
	m.used += n
	if m.used > m.peak {
		m.peak = m.used
	}
}

// release returns n bytes and wakes waiters that now fit, in order.
func (m *memoryBudget) release(n int64) {
	if n <= 0 {
		return
	}
	m.mu.Lock()
	m.used -= n
	if m.used < 0 {
		panic("proxy: memory budget released more than acquired")
	}
	m.grantLocked()
	m.mu.Unlock()
}

func (m *memoryBudget) grantLocked() {
	for len(m.waiters) > 0 {
		w := m.waiters[0]
		if m.used+w.n > m.total {
			return
		}
		m.take(w.n)
		m.waiters = m.waiters[1:]
		close(w.ready)
	}
}

// stats returns bytes in use and the peak since start.
func (m *memoryBudget) stats() (used, peak int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.used, m.peak
}
