package latency

import (
	"errors"
	"testing"
	"time"
)

func TestLoadRunsEveryCallAndSorts(t *testing.T) {
	got, err := Load(4, 5, func(c, i int) error {
		time.Sleep(time.Duration(c*5+i) * 10 * time.Microsecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 {
		t.Fatalf("%d latencies, want 20", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("not sorted at %d: %v", i, got)
		}
	}
}

func TestLoadReturnsAnError(t *testing.T) {
	boom := errors.New("boom")
	if _, err := Load(3, 4, func(c, i int) error {
		if c == 1 && i == 2 {
			return boom
		}
		return nil
	}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

func TestMs(t *testing.T) {
	d := []time.Duration{1 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond}
	for _, c := range []struct {
		p    int
		want float64
	}{{0, 1}, {50, 3}, {99, 4}, {100, 4}} {
		if got := Ms(d, c.p); got != c.want {
			t.Errorf("Ms(p%d) = %v, want %v", c.p, got, c.want)
		}
	}
	if Ms(nil, 50) != 0 {
		t.Error("Ms of nothing is not 0")
	}
}
