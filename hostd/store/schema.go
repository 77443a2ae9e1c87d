package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
)

// migration moves the schema from version-1 to version. Migrations are
// append-only: a released migration is never edited, a change is a new one.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations in order; SchemaVersion is the last one's version.
var migrations = []migration{
	{version: 1, name: "tasks, threads, steers, events, idempotency", sql: schemaV1},
	{version: 2, name: "browser sessions", sql: schemaV2},
}

// SchemaVersion is the schema version this build writes.
var SchemaVersion = migrations[len(migrations)-1].version

// Times are unix nanoseconds (UTC). Task order (ord) and event seq use
// AUTOINCREMENT so that a number is never handed out twice, also after the
// newest rows were deleted.
const schemaV1 = `
CREATE TABLE tasks (
	ord        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT    NOT NULL UNIQUE,
	status     TEXT    NOT NULL CHECK (status IN ('queued','running','completed','failed','cancelled')),
	runtime    TEXT    NOT NULL,
	thread_id  TEXT    NOT NULL,
	input      TEXT    NOT NULL,
	output     TEXT    NOT NULL DEFAULT '',
	error      TEXT    NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX tasks_status_ord ON tasks (status, ord);
CREATE INDEX tasks_thread_updated ON tasks (thread_id, updated_at);
CREATE INDEX tasks_updated ON tasks (updated_at, id);

CREATE TABLE threads (
	id           TEXT    PRIMARY KEY,
	runtime      TEXT    NOT NULL,
	session_id   TEXT    NOT NULL DEFAULT '',
	last_used_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX threads_last_used ON threads (last_used_at);

CREATE TABLE steers (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	task_id    TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
	text       TEXT    NOT NULL,
	state      TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','delivered','undelivered')),
	created_at INTEGER NOT NULL
);
CREATE INDEX steers_task ON steers (task_id, state, id);

CREATE TABLE events (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	id      TEXT    NOT NULL,
	ts      INTEGER NOT NULL,
	type    TEXT    NOT NULL,
	task_id TEXT,
	payload TEXT    NOT NULL
);
CREATE INDEX events_task ON events (task_id, seq) WHERE task_id IS NOT NULL;

CREATE TABLE idempotency (
	key        TEXT    PRIMARY KEY,
	method     TEXT    NOT NULL,
	path       TEXT    NOT NULL,
	done       INTEGER NOT NULL DEFAULT 0,
	status     INTEGER NOT NULL DEFAULT 0,
	body       BLOB,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX idempotency_created ON idempotency (created_at);

-- The queue cap is checked on every create; counting queued rows costs
-- O(queue) per create, so triggers keep the count, inside the same
-- transaction (and savepoint) as the change.
CREATE TABLE counters (
	name  TEXT    PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('queued_tasks', 0);
CREATE TRIGGER tasks_queued_insert AFTER INSERT ON tasks WHEN NEW.status = 'queued'
BEGIN
	UPDATE counters SET value = value + 1 WHERE name = 'queued_tasks';
END;
CREATE TRIGGER tasks_queued_update AFTER UPDATE OF status ON tasks
	WHEN (OLD.status = 'queued') != (NEW.status = 'queued')
BEGIN
	UPDATE counters SET value = value + (CASE WHEN NEW.status = 'queued' THEN 1 ELSE -1 END)
	WHERE name = 'queued_tasks';
END;
CREATE TRIGGER tasks_queued_delete AFTER DELETE ON tasks WHEN OLD.status = 'queued'
BEGIN
	UPDATE counters SET value = value - 1 WHERE name = 'queued_tasks';
END;
`

const schemaV2 = `
CREATE TABLE sessions (
	token_hash TEXT    PRIMARY KEY,
	expires_at INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_expires ON sessions (expires_at);
`

// ErrNewerSchema is returned by Open for a database written by a newer
// hostd. The file is left untouched.
var ErrNewerSchema = errors.New("admin store was written by a newer hostd")

// ErrNotDatabase is returned by Open for a file that is not an SQLite
// database.
var ErrNotDatabase = errors.New("not an SQLite database")

func newerSchemaError(path string, found int) error {
	return fmt.Errorf("%w: %s has schema version %d but this hostd supports at most version %d; "+
		"refusing to open it (run the newer hostd, or restore a backup made by this version)",
		ErrNewerSchema, path, found, SchemaVersion)
}

// peekFileVersion reads the schema version straight from the database
// header (PRAGMA user_version lives at byte offset 60, big-endian) without
// opening the file through SQLite, so a refused file is never touched. It
// returns 0 for a missing or empty file.
func peekFileVersion(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the admin store header: %w", err)
	}
	defer f.Close()
	var hdr [100]byte
	n, err := io.ReadFull(f, hdr[:])
	if n == 0 && (err == io.EOF || err == nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %s is %d bytes, shorter than an SQLite header", ErrNotDatabase, path, n)
	}
	if string(hdr[:16]) != "SQLite format 3\x00" {
		return 0, fmt.Errorf("%w: %s has no SQLite header", ErrNotDatabase, path)
	}
	return int(int32(binary.BigEndian.Uint32(hdr[60:64]))), nil
}

// readOnlyVersion reads user_version through a read-only connection, so a
// version change still only in the WAL (a newer hostd killed right after
// migrating) is seen too, and closing the connection cannot checkpoint
// anything into the file.
func readOnlyVersion(ctx context.Context, path string) (int, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return 0, fmt.Errorf("resolving the admin store path: %w", err)
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&_busy_timeout=10000"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return 0, fmt.Errorf("opening the admin store read-only: %w", err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the admin store schema version: %w", err)
	}
	return v, nil
}

// migrate brings the schema on conn up to target inside one immediate
// transaction. It re-reads user_version under the write lock so a
// version change that is still only in the WAL is seen too.
func migrate(ctx context.Context, conn *sql.Conn, path string, target int) (from int, err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return 0, fmt.Errorf("starting the schema migration: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&from); err != nil {
		return 0, fmt.Errorf("reading the schema version: %w", err)
	}
	if from > SchemaVersion {
		return from, newerSchemaError(path, from)
	}
	for _, m := range migrations {
		if m.version <= from || m.version > target {
			continue
		}
		if _, err := conn.ExecContext(ctx, m.sql); err != nil {
			return from, fmt.Errorf("migrating the admin store to version %d (%s): %w", m.version, m.name, err)
		}
		// PRAGMA takes no bound parameters; the version is our own integer.
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
			return from, fmt.Errorf("recording schema version %d: %w", m.version, err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return from, fmt.Errorf("committing the schema migration: %w", err)
	}
	return from, nil
}
