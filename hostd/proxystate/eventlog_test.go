package proxystate

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

func openLog(t *testing.T, path string, opts EventLogOptions) *EventLog {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedClock
	}
	l, err := OpenEventLog(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func ev(host string) netstate.Event {
	return netstate.Event{Protocol: "https", Method: "GET", Host: host, Port: 443, Path: "/", Decision: "allowed"}
}

func TestEventLogRecordsAndPages(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, filepath.Join(t.TempDir(), EventsFileName), EventLogOptions{})
	for i := 0; i < 12; i++ {
		e := ev("h.example.com")
		e.Seq = 999 // ignored: the log assigns seq
		if i == 11 {
			e.Timestamp = time.Unix(1, 0) // the caller's decision time is kept
		}
		e.Query = strings.Repeat("q", i) // distinguishes events
		l.Record(e)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := l.Events(ctx, 0, 5)
	if err != nil || len(page) != 5 {
		t.Fatalf("%d events, %v", len(page), err)
	}
	for i, e := range page {
		if e.Seq != int64(i+1) || !e.Timestamp.Equal(fixedNow) || e.Query != strings.Repeat("q", i) {
			t.Fatalf("event %d = %+v", i, e)
		}
	}
	page, _ = l.Events(ctx, 10, 5)
	if len(page) != 2 || page[0].Seq != 11 || page[1].Seq != 12 {
		t.Fatalf("tail page %+v", page)
	}
	if !page[0].Timestamp.Equal(fixedNow) || !page[1].Timestamp.Equal(time.Unix(1, 0)) {
		t.Fatalf("timestamps %v %v: want the log's clock when none is given, else the caller's", page[0].Timestamp, page[1].Timestamp)
	}
	if page, _ := l.Events(ctx, 12, 5); len(page) != 0 || page == nil {
		t.Fatalf("empty page must be [] not nil: %#v", page)
	}
	for _, bad := range [][2]int64{{-1, 5}, {0, 0}, {0, MaxEventsPage + 1}} {
		if _, err := l.Events(ctx, bad[0], int(bad[1])); err == nil {
			t.Errorf("Events(%d, %d) accepted", bad[0], bad[1])
		}
	}
}

// The log keeps exactly the newest 10,000 events, and seq is never reused
// across a reopen, even though old rows were pruned.
func TestEventLogStaysAtTenThousandAndSeqNeverReused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), EventsFileName)
	l, err := OpenEventLog(ctx, path, EventLogOptions{Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	const total = DefaultKeepEvents + 300
	for i := 0; i < total; i++ {
		l.Record(ev("h.example.com"))
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := l.Count(ctx); err != nil || n != DefaultKeepEvents {
		t.Fatalf("count %d (%v), want %d", n, err, DefaultKeepEvents)
	}
	first, _ := l.Events(ctx, 0, 1)
	if first[0].Seq != total-DefaultKeepEvents+1 {
		t.Fatalf("oldest kept seq %d, want %d", first[0].Seq, total-DefaultKeepEvents+1)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Delete every row behind the log's back: AUTOINCREMENT still must not
	// hand out an old seq.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM network_events"); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	l2 := openLog(t, path, EventLogOptions{})
	l2.Record(ev("after.example.com"))
	if err := l2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := l2.Events(ctx, 0, 10)
	if len(got) != 1 || got[0].Seq != total+1 {
		t.Fatalf("after reopen: %+v, want seq %d", got, total+1)
	}
}

func TestEventFieldsAreCapped(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, filepath.Join(t.TempDir(), EventsFileName), EventLogOptions{})
	e := netstate.Event{
		Protocol: "https-but-very-long", Method: strings.Repeat("M", 100),
		Host: strings.Repeat("h", 1000), Path: "/" + strings.Repeat("é", 3000),
		Query: strings.Repeat("q", 5000), Decision: "denied", Reason: strings.Repeat("r", 2000) + "\xff",
	}
	l.Record(e)
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := l.Events(ctx, 0, 1)
	g := got[0]
	for name, c := range map[string]struct {
		s   string
		max int
	}{
		"host": {g.Host, MaxEventHost}, "path": {g.Path, MaxEventPath}, "query": {g.Query, MaxEventQuery},
		"reason": {g.Reason, MaxEventReason}, "method": {g.Method, MaxEventMethod}, "protocol": {g.Protocol, MaxEventProtocol},
	} {
		if len(c.s) > c.max || !strings.HasSuffix(c.s, truncMarker) && len(c.s) > len(truncMarker) {
			t.Errorf("%s: %d bytes %q...", name, len(c.s), c.s[:min(len(c.s), 20)])
		}
	}
	if !strings.HasSuffix(g.Path, truncMarker) || strings.ContainsRune(g.Path, '\uFFFD') {
		t.Errorf("path cut inside a rune: %q", g.Path[len(g.Path)-20:])
	}
}

func TestCapFieldKeepsShortValues(t *testing.T) {
	if capField("abc", 10) != "abc" || capField("", 3) != "" {
		t.Fatal("short values changed")
	}
	if got := capField("abcdefghijklmnopqrstuvwxyz", 20); len(got) != 20 || got != "abcdef"+truncMarker {
		t.Fatalf("got %q", got)
	}
	if got := capField("bad\xffutf8", 100); got != "bad\uFFFDutf8" {
		t.Fatalf("got %q", got)
	}
}

func TestEventLogRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), EventsFileName)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 7"); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if _, err := OpenEventLog(context.Background(), path, EventLogOptions{}); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("OpenEventLog = %v", err)
	}
	if _, err := ReadEvents(context.Background(), path, 0, 5); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("ReadEvents = %v", err)
	}
}

func TestReadEventsWithoutALogIsEmpty(t *testing.T) {
	got, err := ReadEvents(context.Background(), filepath.Join(t.TempDir(), EventsFileName), 0, 5)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("%#v %v", got, err)
	}
	if _, err := ReadEvents(context.Background(), "x", 0, 0); err == nil {
		t.Fatal("bad limit accepted")
	}
}

func TestReadEventsSeesTheWritersCommits(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), EventsFileName)
	l := openLog(t, path, EventLogOptions{})
	l.Record(ev("a.example.com"))
	l.Record(ev("b.example.com"))
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := ReadEvents(ctx, path, 1, 5)
	if err != nil || len(got) != 1 || got[0].Host != "b.example.com" {
		t.Fatalf("%+v %v", got, err)
	}
}

// Concurrent recorders under backpressure (tiny queue) lose nothing.
func TestConcurrentRecordersLoseNothing(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, filepath.Join(t.TempDir(), EventsFileName), EventLogOptions{QueueSize: 2, MaxBatch: 8})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				l.Record(ev("c.example.com"))
			}
		}()
	}
	wg.Wait()
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Count(ctx); n != 800 || l.Dropped() != 0 {
		t.Fatalf("count %d dropped %d", n, l.Dropped())
	}
	last, _ := l.Events(ctx, 799, 5)
	if len(last) != 1 || last[0].Seq != 800 {
		t.Fatalf("seq not contiguous: %+v", last)
	}
}

func TestRecordAfterCloseIsCountedNotLost(t *testing.T) {
	l, err := OpenEventLog(context.Background(), filepath.Join(t.TempDir(), EventsFileName), EventLogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Record(ev("x.example.com"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Record(ev("late.example.com"))
	if l.Dropped() != 1 {
		t.Fatalf("dropped = %d", l.Dropped())
	}
	if err := l.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := l.Flush(context.Background()); err == nil {
		t.Fatal("Flush after Close succeeded")
	}
}
