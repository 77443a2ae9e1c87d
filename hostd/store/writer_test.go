package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// bareWriter is a writer on its own database with one table, not running,
// so tests can hand runBatch exactly the batch they want.
func bareWriter(t *testing.T) (*writer, *sql.DB) {
	t.Helper()
	db := rawDB(t, filepath.Join(t.TempDir(), "w.db"))
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(2) // one for the writer, one for the test's reads
	if _, err := db.Exec(`CREATE TABLE rows (v TEXT)`); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return newWriter(conn, 16), db
}

func insertOp(v string, thenFail error) *op {
	return &op{done: make(chan error, 1), fn: func(tx *wtx) error {
		if _, err := tx.exec(`INSERT INTO rows (v) VALUES (?)`, v); err != nil {
			return err
		}
		return thenFail
	}}
}

func rowsIn(t *testing.T, db *sql.DB) []string {
	t.Helper()
	r, err := db.Query(`SELECT v FROM rows ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var v string
		_ = r.Scan(&v)
		out = append(out, v)
	}
	return out
}

func TestOneFailingMutationDoesNotAffectOthersInItsGroupCommit(t *testing.T) {
	w, db := bareWriter(t)
	boom := errors.New("refused")
	a, b, c := insertOp("a", nil), insertOp("b", boom), insertOp("c", nil)
	panicky := &op{done: make(chan error, 1), fn: func(tx *wtx) error {
		if _, err := tx.exec(`INSERT INTO rows (v) VALUES ('p')`); err != nil {
			return err
		}
		panic("bug in a mutation")
	}}
	abandoned := insertOp("abandoned", nil)
	abandoned.state.Store(opAbandoned)
	w.runBatch([]*op{a, b, panicky, abandoned, c})
	if err := <-a.done; err != nil {
		t.Fatalf("a: %v", err)
	}
	if err := <-b.done; !errors.Is(err, boom) {
		t.Fatalf("b: %v", err)
	}
	if err := <-panicky.done; err == nil || !strings.Contains(err.Error(), "bug in a mutation") {
		t.Fatalf("panicking op: %v", err)
	}
	if err := <-c.done; err != nil {
		t.Fatalf("c: %v", err)
	}
	select {
	case err := <-abandoned.done:
		t.Fatalf("abandoned op got a result: %v", err)
	default:
	}
	if got := rowsIn(t, db); fmt.Sprint(got) != "[a c]" {
		t.Fatalf("rows = %v, want [a c]", got)
	}
	if ws := (WriterStats{w.nBatches.Load(), w.nOps.Load()}); ws.Batches != 1 {
		t.Fatalf("stats = %+v", ws)
	}
}

func TestMutationAbandonedBeforeTheWriterTakesItIsNeverApplied(t *testing.T) {
	s, _ := openTest(t, Options{})
	release := make(chan struct{})
	blocking := make(chan error, 1)
	entered := make(chan struct{})
	go func() {
		blocking <- s.write(context.Background(), func(tx *wtx) error {
			close(entered)
			<-release
			return nil
		})
	}()
	<-entered // the writer is busy with the blocking op
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	applied := false
	err := s.write(ctx, func(tx *wtx) error { applied = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write with an expired context: %v", err)
	}
	close(release)
	if err := <-blocking; err != nil {
		t.Fatal(err)
	}
	// One more write proves the writer moved past the abandoned one.
	if err := s.write(context.Background(), func(tx *wtx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if applied {
		t.Fatal("an abandoned mutation ran")
	}
}

func TestConcurrentMutationsAreAllCommittedInGroups(t *testing.T) {
	s, _ := openTest(t, Options{})
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if err := s.CreateSession(context.Background(), fmt.Sprintf("h%d", i), time.Now().Add(time.Hour)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c := count(t, s, `SELECT COUNT(*) FROM sessions`); c != n {
		t.Fatalf("%d sessions committed, want %d", c, n)
	}
	ws := s.WriterStats()
	t.Logf("%d mutations in %d batches", ws.Ops, ws.Batches)
	if ws.Batches >= ws.Ops {
		t.Logf("no grouping happened (machine too idle?)")
	}
}

func TestCallsAfterCloseFailWithErrClosed(t *testing.T) {
	s, _ := openTest(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.CreateSession(context.Background(), "h", time.Now()); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}
