package auth

import (
	"fmt"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func TestBackoffFirstFiveFailuresAreFree(t *testing.T) {
	c := newClock()
	b := NewBackoff(BackoffConfig{}, c.now)
	for i := 0; i < 4; i++ {
		b.Failure("src")
		if ok, _ := b.Allow("src"); !ok {
			t.Fatalf("after %d failures: refused, want allowed", i+1)
		}
	}
	b.Failure("src") // 5th
	ok, wait := b.Allow("src")
	if ok || wait != time.Second {
		t.Fatalf("after 5 failures: Allow = %v, %v; want false, 1s", ok, wait)
	}
}

func TestBackoffDelayDoublesAndIsCapped(t *testing.T) {
	c := newClock()
	b := NewBackoff(BackoffConfig{MaxDelay: 10 * time.Second}, c.now)
	for i := 0; i < 4; i++ {
		b.Failure("src")
	}
	for _, want := range []time.Duration{1, 2, 4, 8, 10, 10} {
		want *= time.Second
		b.Failure("src")
		ok, wait := b.Allow("src")
		if ok || wait != want {
			t.Fatalf("Allow = %v, %v; want false, %v", ok, wait, want)
		}
		c.advance(want - time.Millisecond)
		if ok, _ := b.Allow("src"); ok {
			t.Fatalf("allowed %v before the %v window ended", time.Millisecond, want)
		}
		c.advance(time.Millisecond)
		if ok, _ := b.Allow("src"); !ok {
			t.Fatalf("still refused after the %v window", want)
		}
	}
}

func TestBackoffIsPerSource(t *testing.T) {
	c := newClock()
	b := NewBackoff(BackoffConfig{}, c.now)
	for i := 0; i < 7; i++ {
		b.Failure("attacker")
	}
	if ok, _ := b.Allow("attacker"); ok {
		t.Fatal("attacker allowed")
	}
	if ok, _ := b.Allow("operator"); !ok {
		t.Fatal("another source was throttled by the attacker's failures")
	}
}

func TestBackoffSuccessAndTimeForget(t *testing.T) {
	c := newClock()
	b := NewBackoff(BackoffConfig{}, c.now)
	for i := 0; i < 5; i++ {
		b.Failure("src")
	}
	b.Success("src")
	if ok, _ := b.Allow("src"); !ok {
		t.Fatal("refused after a success")
	}
	for i := 0; i < 20; i++ {
		b.Failure("src")
	}
	c.advance(24 * time.Hour)
	if ok, _ := b.Allow("src"); !ok {
		t.Fatal("refused after the forget window")
	}
	b.Failure("src")
	if ok, _ := b.Allow("src"); !ok {
		t.Fatal("a forgotten source should start over with free failures")
	}
}

func TestBackoffRemembersBoundedSources(t *testing.T) {
	c := newClock()
	b := NewBackoff(BackoffConfig{MaxSources: 10}, c.now)
	for i := 0; i < 1000; i++ {
		b.Failure(fmt.Sprintf("src-%d", i))
		c.advance(time.Millisecond)
	}
	if n := len(b.sources); n != 10 {
		t.Fatalf("remembered %d sources, want 10", n)
	}
	if _, ok := b.sources["src-999"]; !ok {
		t.Fatal("newest source was evicted")
	}
}
