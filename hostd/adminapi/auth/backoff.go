package auth

import (
	"sync"
	"time"
)

// BackoffConfig tunes Backoff. Zero fields take the defaults in brackets.
type BackoffConfig struct {
	FreeFailures int           // failures allowed before any delay [5]
	BaseDelay    time.Duration // delay after the first failure past the free ones [1s]
	MaxDelay     time.Duration // cap of the exponential delay [15m]
	ForgetAfter  time.Duration // a source with no failure for this long starts over [24h]
	MaxSources   int           // sources remembered at once; the stalest is dropped [4096]
}

func (c BackoffConfig) withDefaults() BackoffConfig {
	if c.FreeFailures <= 0 {
		c.FreeFailures = 5
	}
	if c.BaseDelay <= 0 {
		c.BaseDelay = time.Second
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = 15 * time.Minute
	}
	if c.ForgetAfter <= 0 {
		c.ForgetAfter = 24 * time.Hour
	}
	if c.MaxSources <= 0 {
		c.MaxSources = 4096
	}
	return c
}

// Backoff slows password guessing per source: once a source has n >=
// FreeFailures consecutive failures, it must wait
// BaseDelay·2^(n-FreeFailures) (capped at MaxDelay) after its last failure
// before it may try again (defaults: 1 s after the 5th, 2 s after the 6th,
// … up to 15 min).
// A success forgets the source. Callers answer a refused attempt at once
// (the API sends 429 with Retry-After) instead of sleeping, so a guesser
// holds no server resources while it waits.
type Backoff struct {
	cfg BackoffConfig
	now func() time.Time

	mu      sync.Mutex
	sources map[string]*failures
}

type failures struct {
	count int
	last  time.Time
}

// NewBackoff returns a Backoff that reads time from now.
func NewBackoff(cfg BackoffConfig, now func() time.Time) *Backoff {
	return &Backoff{cfg: cfg.withDefaults(), now: now, sources: map[string]*failures{}}
}

// Allow reports whether source may attempt a login now, and if not, how
// long until it may.
func (b *Backoff) Allow(source string) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	f := b.lookup(source, now)
	if f == nil || f.count < b.cfg.FreeFailures {
		return true, 0
	}
	until := f.last.Add(b.delay(f.count))
	if now.Before(until) {
		return false, until.Sub(now)
	}
	return true, 0
}

// Failure records a failed attempt from source.
func (b *Backoff) Failure(source string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	f := b.lookup(source, now)
	if f == nil {
		if len(b.sources) >= b.cfg.MaxSources {
			b.evictStalest()
		}
		f = &failures{}
		b.sources[source] = f
	}
	f.count++
	f.last = now
}

// Success forgets source's failures.
func (b *Backoff) Success(source string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.sources, source)
}

// lookup returns source's record, dropping it when it is old enough to be
// forgotten.
func (b *Backoff) lookup(source string, now time.Time) *failures {
	f := b.sources[source]
	if f != nil && now.Sub(f.last) >= b.cfg.ForgetAfter {
		delete(b.sources, source)
		return nil
	}
	return f
}

// delay is the wait after the count-th failure (count >= FreeFailures).
func (b *Backoff) delay(count int) time.Duration {
	shift := count - b.cfg.FreeFailures
	d := b.cfg.BaseDelay
	for i := 0; i < shift; i++ {
		d *= 2
		if d >= b.cfg.MaxDelay {
			return b.cfg.MaxDelay
		}
	}
	return min(d, b.cfg.MaxDelay)
}

func (b *Backoff) evictStalest() {
	var stalest string
	var at time.Time
	first := true
	for s, f := range b.sources {
		if first || f.last.Before(at) {
			stalest, at, first = s, f.last, false
		}
	}
	delete(b.sources, stalest)
}
