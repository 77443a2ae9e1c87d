package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// rawDB opens path with plain SQLite (no store), for building fixtures.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

func setUserVersion(t *testing.T, db *sql.DB, v int) {
	t.Helper()
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		t.Fatal(err)
	}
}

type fileState struct {
	data  []byte
	mtime time.Time
}

func snapshot(t *testing.T, path string) fileState {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	return fileState{data, fi.ModTime()}
}

func TestNewerSchemaIsRefusedNamingBothVersionsWithoutTouchingTheFile(t *testing.T) {
	s, path := openTest(t, Options{})
	mustCreate(t, s, agentrt.Codex, "th", "keep me")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	setUserVersion(t, db, SchemaVersion+1)
	db.Close()
	before := snapshot(t, path)

	_, err := Open(context.Background(), path, Options{})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open: %v, want ErrNewerSchema", err)
	}
	for _, want := range []string{fmt.Sprintf("version %d", SchemaVersion+1), fmt.Sprintf("at most version %d", SchemaVersion), path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	after := snapshot(t, path)
	if !bytes.Equal(before.data, after.data) || !before.mtime.Equal(after.mtime) {
		t.Fatal("refusing the store changed the file")
	}
	for _, side := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + side); err == nil {
			t.Errorf("refusing the store left %s behind", side)
		}
	}
}

func TestNewerSchemaOnlyInTheWALIsRefusedToo(t *testing.T) {
	s, path := openTest(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A newer hostd migrated and was killed before any checkpoint: the
	// version bump lives only in the WAL. Copy the files while that
	// connection is still open, as a crash would leave them.
	db := rawDB(t, path)
	defer db.Close()
	if _, err := db.Exec("PRAGMA wal_autocheckpoint = 0"); err != nil {
		t.Fatal(err)
	}
	setUserVersion(t, db, SchemaVersion+7)
	crashed := filepath.Join(t.TempDir(), "admin.db")
	for _, side := range []string{"", "-wal"} {
		data, err := os.ReadFile(path + side)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crashed+side, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := peekFileVersion(crashed); v != SchemaVersion {
		t.Fatalf("fixture: header already says %d", v)
	}
	before := snapshot(t, crashed)
	_, err := Open(context.Background(), crashed, Options{})
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), fmt.Sprintf("version %d", SchemaVersion+7)) {
		t.Fatalf("Open: %v", err)
	}
	if after := snapshot(t, crashed); !bytes.Equal(before.data, after.data) {
		t.Fatal("refusing the store checkpointed into the file")
	}
}

func TestMigratesForwardFromVersion1KeepingData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.db")
	db := rawDB(t, path)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate(ctx, conn, path, 1); err != nil {
		t.Fatalf("building a v1 store: %v", err)
	}
	// What a version-1 hostd left: a running and a queued task, events,
	// a finished idempotency record and an unfinished one.
	for _, q := range []string{
		`INSERT INTO threads (id, runtime, session_id, last_used_at) VALUES ('th', 'codex', 'sess-1', 1)`,
		`INSERT INTO tasks (id, status, runtime, thread_id, input, created_at, updated_at) VALUES ('t-run', 'running', 'codex', 'th', 'old', 1, 1)`,
		`INSERT INTO tasks (id, status, runtime, thread_id, input, created_at, updated_at) VALUES ('t-q', 'queued', 'codex', 'th', 'next', 2, 2)`,
		`INSERT INTO events (id, ts, type, task_id, payload) VALUES ('e1', 1, 'task.message', 't-run', '{"message":"old","source":"user"}')`,
		`INSERT INTO idempotency (key, method, path, done, status, body, created_at) VALUES ('done', 'POST', '/v1/tasks', 1, 201, '{}', 1)`,
		`INSERT INTO idempotency (key, method, path, done, status, body, created_at) VALUES ('open', 'POST', '/v1/tasks', 0, 0, NULL, 1)`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close()
	db.Close()

	s := openAt(t, path, Options{})
	rec := s.Recovery()
	if rec.MigratedFrom != 1 || len(rec.FailedTasks) != 1 || rec.FailedTasks[0] != "t-run" || rec.DroppedReservations != 1 {
		t.Fatalf("recovery = %+v", rec)
	}
	var v int
	if err := s.queryRow(ctx, "PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion {
		t.Fatalf("user_version = %d, %v", v, err)
	}
	if got, err := s.GetTask(ctx, "t-q"); err != nil || got.Status != tasks.StatusQueued || got.Input != "next" {
		t.Fatalf("queued task after migration = %+v, %v", got, err)
	}
	if got, _ := s.GetTask(ctx, "t-run"); got.Status != tasks.StatusFailed || got.Error != RestartError {
		t.Fatalf("running task after migration = %+v", got)
	}
	if sid, _ := s.ThreadSession(ctx, "th"); sid != "sess-1" {
		t.Fatalf("session = %q", sid)
	}
	// Version 2's table works.
	if err := s.CreateSession(ctx, "hash", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("sessions after migration: %v", err)
	}
	// The v1 event kept its seq; new ones follow it.
	evs := allEvents(t, s, "")
	if evs[0].ID != "e1" || evs[0].Seq != 1 || evs[len(evs)-1].Seq <= 1 {
		t.Fatalf("events after migration = %+v", evs)
	}
}

func TestOpenRefusesWhatIsNotAStore(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.db")
	content := []byte(strings.Repeat("not a database ", 20))
	if err := os.WriteFile(junk, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), junk, Options{}); !errors.Is(err, ErrNotDatabase) {
		t.Fatalf("junk file: %v", err)
	}
	if got, _ := os.ReadFile(junk); !bytes.Equal(got, content) {
		t.Fatal("the junk file was changed")
	}
	if _, err := Open(context.Background(), filepath.Join(dir, "a?b.db"), Options{}); err == nil {
		t.Fatal("a path with '?' was accepted")
	}
}

func TestSecondOpenOfTheSameStoreIsRefused(t *testing.T) {
	_, path := openTest(t, Options{})
	_, err := Open(context.Background(), path, Options{})
	if err == nil || !strings.Contains(err.Error(), "already open") {
		t.Fatalf("second Open: %v", err)
	}
}

func TestNewStoreFileIsPrivate(t *testing.T) {
	_, path := openTest(t, Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file mode %v, want 0600", fi.Mode().Perm())
	}
}
