package proxystate

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// When the writer is stuck (here: another connection holds the database's
// write lock), Record blocks for RecordWait, then gives up on the event
// and counts it: backpressure, never a silent drop and never a hang.
func TestRecordBackpressureThenCountedDrop(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), EventsFileName)
	l := openLog(t, path, EventLogOptions{QueueSize: 1, MaxBatch: 1, RecordWait: 200 * time.Millisecond})

	blocker, err := sql.Open("sqlite", path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	conn, err := blocker.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	l.Record(ev("one.example.com")) // taken by the writer, which then waits for the lock
	l.Record(ev("two.example.com")) // fills the queue
	start := time.Now()
	l.Record(ev("three.example.com")) // queue full, writer stuck: waits, then drops
	waited := time.Since(start)
	if l.Dropped() < 1 {
		t.Fatalf("dropped = %d after a full queue", l.Dropped())
	}
	if waited < 150*time.Millisecond {
		t.Fatalf("Record gave up after %v without applying backpressure", waited)
	}

	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := l.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int64(n)+l.Dropped() != 3 {
		t.Fatalf("stored %d + dropped %d != 3 recorded", n, l.Dropped())
	}
}
