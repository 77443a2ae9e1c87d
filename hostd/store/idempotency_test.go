package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestIdempotencyReserveFinishReplayAndExpiry(t *testing.T) {
	s, path := openTest(t, Options{})
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	rec, existing, err := s.BeginIdempotent(ctx, "k1", "POST", "/v1/tasks", now)
	if err != nil || existing || rec.Done || rec.Key != "k1" {
		t.Fatalf("first Begin = %+v, %v, %v", rec, existing, err)
	}
	// In flight: a replay sees the unfinished reservation.
	rec, existing, _ = s.BeginIdempotent(ctx, "k1", "POST", "/v1/tasks", now.Add(time.Second))
	if !existing || rec.Done {
		t.Fatalf("replay in flight = %+v, %v", rec, existing)
	}
	if err := s.FinishIdempotent(ctx, "k1", 201, []byte(`{"task_id":"t"}`)); err != nil {
		t.Fatal(err)
	}
	rec, existing, _ = s.BeginIdempotent(ctx, "k1", "PUT", "/v1/other", now.Add(23*time.Hour))
	if !existing || !rec.Done || rec.Status != 201 || string(rec.Body) != `{"task_id":"t"}` || rec.Method != "POST" || rec.Path != "/v1/tasks" || !rec.CreatedAt.Equal(now) {
		t.Fatalf("replay = %+v, %v", rec, existing)
	}
	// After 24 h the key is new again.
	rec, existing, _ = s.BeginIdempotent(ctx, "k1", "DELETE", "/v1/session", now.Add(24*time.Hour))
	if existing || rec.Method != "DELETE" || rec.Done {
		t.Fatalf("expired key = %+v, %v", rec, existing)
	}
	// Abort drops only an unfinished reservation.
	if err := s.AbortIdempotent(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, existing, _ := s.BeginIdempotent(ctx, "k1", "POST", "/v1/tasks", now.Add(25*time.Hour)); existing {
		t.Fatal("aborted reservation still there")
	}
	if err := s.FinishIdempotent(ctx, "k1", 200, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AbortIdempotent(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if rec, existing, _ := s.BeginIdempotent(ctx, "k1", "POST", "/v1/tasks", now.Add(25*time.Hour)); !existing || !rec.Done || rec.Body == nil {
		t.Fatalf("abort removed a finished record: %+v", rec)
	}
	if err := s.FinishIdempotent(ctx, "never-reserved", 200, nil); !errors.Is(err, ErrNoReservation) {
		t.Fatalf("finish without reservation: %v", err)
	}
	// A restart drops reservations whose request never finished, and keeps
	// finished ones.
	if _, _, err := s.BeginIdempotent(ctx, "inflight", "POST", "/v1/tasks", now.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s.InFlightIdempotent() != 1 {
		t.Fatalf("in flight = %d", s.InFlightIdempotent())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{})
	if _, existing, _ := s.BeginIdempotent(ctx, "inflight", "POST", "/v1/tasks", now.Add(25*time.Hour)); existing {
		t.Fatal("in-flight reservation survived the restart")
	}
	if _, existing, _ := s.BeginIdempotent(ctx, "k1", "POST", "/v1/tasks", now.Add(25*time.Hour)); !existing {
		t.Fatal("finished record lost in the restart")
	}
}

func TestConcurrentRequestsWithOneKeyRunExactlyOnce(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	now := time.Now()
	const n = 32
	var mu sync.Mutex
	owners := 0
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			rec, existing, err := s.BeginIdempotent(ctx, "same", "POST", "/v1/tasks", now)
			if err != nil {
				t.Error(err)
				return
			}
			if !existing {
				mu.Lock()
				owners++
				mu.Unlock()
				if err := s.FinishIdempotent(ctx, rec.Key, 201, []byte("first")); err != nil {
					t.Error(err)
				}
			} else if rec.Done && string(rec.Body) != "first" {
				t.Errorf("replay body %q", rec.Body)
			}
		})
	}
	wg.Wait()
	if owners != 1 {
		t.Fatalf("%d requests ran for one key", owners)
	}
	if rec, existing, _ := s.BeginIdempotent(ctx, "same", "POST", "/v1/tasks", now); !existing || !rec.Done || rec.Status != 201 {
		t.Fatalf("after the race: %+v %v", rec, existing)
	}
}
