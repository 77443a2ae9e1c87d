package proxy

import (
	"context"
	"time"
)

// budgetBuffer is a byte buffer whose capacity is charged to the global
// memory budget before it is allocated, and capped at limit bytes.
type budgetBuffer struct {
	ctx    context.Context
	budget *memoryBudget
	wait   time.Duration
	limit  int64
	buf    []byte
	held   int64
}

func (p *Proxy) newBudgetBuffer(ctx context.Context) *budgetBuffer {
	return &budgetBuffer{ctx: ctx, budget: p.budget, wait: p.lim.BudgetWait, limit: p.lim.MaxBodyBytes}
}

const minBufferGrowth = 64 << 10

func (b *budgetBuffer) Write(p []byte) (int, error) {
	need := int64(len(b.buf)) + int64(len(p))
	if need > b.limit {
		return 0, errBodyTooLarge
	}
	if need > int64(cap(b.buf)) {
		newCap := max(need, 2*int64(cap(b.buf)), minBufferGrowth)
		if err := b.grow(min(newCap, b.limit)); err != nil {
			return 0, err
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// reserve makes room for n bytes up front (a known Content-Length), so
// the body takes the budget at once or not at all.
func (b *budgetBuffer) reserve(n int64) error {
	if n > b.limit {
		return errBodyTooLarge
	}
	if n <= int64(cap(b.buf)) {
		return nil
	}
	return b.grow(n)
}

// grow charges the new capacity while the old buffer is still alive
// (both exist during the copy), then returns the old charge.
func (b *budgetBuffer) grow(newCap int64) error {
	if err := b.budget.acquire(b.ctx, newCap, b.wait); err != nil {
		return err
	}
	nb := make([]byte, len(b.buf), newCap)
	copy(nb, b.buf)
	b.buf = nb
	b.budget.release(b.held)
	b.held = newCap
	return nil
}

func (b *budgetBuffer) bytes() []byte { return b.buf }

// release drops the buffer and returns its charge; safe to call twice.
func (b *budgetBuffer) release() {
	b.buf = nil
	b.budget.release(b.held)
	b.held = 0
}
