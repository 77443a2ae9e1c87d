package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/tasks"

	// Registers the "sqlite" database/sql driver (pure Go, no cgo).
	_ "modernc.org/sqlite"
)

// Limits are the retention bounds and caps the store enforces. The zero
// value of a field means the product default from package tasks; tests
// may lower them.
type Limits struct {
	QueuedTasks     int           // Create fails with ErrConflict at this many queued tasks
	PendingSteers   int           // per running task
	FinishedTasks   int           // newest finished tasks kept by Prune
	Events          int           // newest events kept (on every commit and by Prune)
	Threads         int           // most recently used threads whose runtime session is remembered
	IdempotencyKeys int           // newest keys kept by Prune
	IdempotencyTTL  time.Duration // keys older than this are dropped by Prune
	MessageBytes    int           // stored message size cap (truncated with a marker)
}

// DefaultLimits are the bounds fixed by the API contract.
func DefaultLimits() Limits {
	return Limits{
		QueuedTasks:     tasks.MaxQueuedTasks,
		PendingSteers:   tasks.MaxPendingSteers,
		FinishedTasks:   tasks.MaxFinishedTasks,
		Events:          tasks.MaxEvents,
		Threads:         tasks.MaxRememberedThread,
		IdempotencyKeys: 10_000,
		IdempotencyTTL:  24 * time.Hour,
		MessageBytes:    tasks.MaxMessageBytes,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	l.QueuedTasks = pick(l.QueuedTasks, d.QueuedTasks)
	l.PendingSteers = pick(l.PendingSteers, d.PendingSteers)
	l.FinishedTasks = pick(l.FinishedTasks, d.FinishedTasks)
	l.Events = pick(l.Events, d.Events)
	l.Threads = pick(l.Threads, d.Threads)
	l.IdempotencyKeys = pick(l.IdempotencyKeys, d.IdempotencyKeys)
	l.MessageBytes = pick(l.MessageBytes, d.MessageBytes)
	if l.IdempotencyTTL <= 0 {
		l.IdempotencyTTL = d.IdempotencyTTL
	}
	return l
}

// Options configure Open. The zero value is the production setting.
type Options struct {
	// Now is the clock for timestamps; default time.Now.
	Now func() time.Time
	// MaxBatch is the most mutations committed together; 1 turns group
	// commit off (every mutation pays its own fsync). Default 128.
	MaxBatch int
	// Readers is the size of the read connection pool; default 4.
	Readers int
	Limits  Limits
}

// RecoveryReport says what Open repaired after an unclean stop.
type RecoveryReport struct {
	// FailedTasks were running when the previous process stopped.
	FailedTasks []string
	// DroppedReservations were Idempotency-Key reservations whose request
	// never finished, found in the file (only stores written before
	// reservations moved to memory have any).
	DroppedReservations int
	// MigratedFrom is the schema version found (0 for a new file); equal
	// to SchemaVersion when no migration ran.
	MigratedFrom int
}

// RestartError is the error_message of tasks that were running when the
// host stopped.
const RestartError = "the host restarted while this task was running"

// Store is the durable admin state. All methods are safe for concurrent
// use.
type Store struct {
	path     string
	now      func() time.Time
	lim      Limits
	wdb, rdb *sql.DB
	w        *writer
	lock     *os.File
	notify   notifier
	recovery RecoveryReport

	rmu    sync.Mutex
	rstmts map[string]*sql.Stmt

	idemMu   sync.Mutex
	inflight map[string]IdempotencyRecord // reservations of running requests

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the admin store at path, migrates it
// forward, and recovers from an unclean stop. A database written by a
// newer schema version is refused with ErrNewerSchema before anything is
// written. Only one process may hold the store open.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("admin store path %q: must be non-empty and contain no '?' or '#'", path)
	}
	if v, err := peekFileVersion(path); err != nil {
		return nil, err
	} else if v > SchemaVersion {
		return nil, newerSchemaError(path, v)
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		v, err := readOnlyVersion(ctx, path)
		if err != nil {
			return nil, err
		}
		if v > SchemaVersion {
			return nil, newerSchemaError(path, v)
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 128
	}
	if opts.Readers <= 0 {
		opts.Readers = 4
	}
	s := &Store{path: path, now: opts.Now, lim: opts.Limits.withDefaults(), rstmts: make(map[string]*sql.Stmt), inflight: make(map[string]IdempotencyRecord)}
	if err := s.lockFile(); err != nil {
		return nil, err
	}
	if err := s.openDBs(ctx, opts); err != nil {
		s.closeDBs()
		return nil, err
	}
	if err := s.recover(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// lockFile creates the database file 0600 if missing and takes an
// exclusive lock on a side file, so a second hostd gets a clear error
// instead of competing for the write lock.
func (s *Store) lockFile() error {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("creating the admin store file: %w", err)
	}
	_ = f.Close()
	lf, err := os.OpenFile(s.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("creating the admin store lock file: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = lf.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("admin store %s is already open in another process", s.path)
		}
		return fmt.Errorf("locking the admin store: %w", err)
	}
	s.lock = lf
	return nil
}

func (s *Store) openDBs(ctx context.Context, opts Options) error {
	const common = "_busy_timeout=10000&_foreign_keys=1"
	// temp_store=MEMORY keeps the per-mutation savepoint journals off disk:
	// otherwise every page a mutation touches costs a pwrite to a temp file.
	wdb, err := sql.Open("sqlite", s.path+"?"+common+"&_journal_mode=WAL&_synchronous=FULL&_pragma=temp_store(2)")
	if err != nil {
		return fmt.Errorf("opening the admin store: %w", err)
	}
	s.wdb = wdb
	wdb.SetMaxOpenConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	conn, err := wdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("opening the admin store %s: %w", s.path, err)
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		_ = conn.Close()
		return fmt.Errorf("reading the journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		_ = conn.Close()
		return fmt.Errorf("admin store %s: journal mode is %q, WAL is required (is the file system local?)", s.path, mode)
	}
	from, err := migrate(ctx, conn, s.path, SchemaVersion)
	if err != nil {
		_ = conn.Close()
		return err
	}
	s.recovery.MigratedFrom = from

	rdb, err := sql.Open("sqlite", s.path+"?"+common+"&_query_only=1")
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("opening the admin store for reading: %w", err)
	}
	s.rdb = rdb
	rdb.SetMaxOpenConns(opts.Readers)
	rdb.SetMaxIdleConns(opts.Readers)
	rdb.SetConnMaxIdleTime(0)

	s.w = newWriter(conn, opts.MaxBatch)
	s.w.beforeCommit = s.boundEvents
	s.w.afterCommit = func(events bool) {
		if events {
			s.notify.notify()
		}
	}
	go s.w.run()
	return nil
}

// WriterStats counts committed write batches and the mutations in them;
// Ops/Batches is the average group-commit size.
type WriterStats struct{ Batches, Ops int64 }

// WriterStats reports the writer's counters since Open.
func (s *Store) WriterStats() WriterStats {
	return WriterStats{Batches: s.w.nBatches.Load(), Ops: s.w.nOps.Load()}
}

// Recovery reports what Open repaired.
func (s *Store) Recovery() RecoveryReport { return s.recovery }

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close stops the writer (waiting for the batch in progress), checkpoints
// the WAL and closes the database. Calls after the first return its result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.w != nil {
			s.w.close()
			_, _ = s.w.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
			if err := s.w.conn.Close(); err != nil {
				s.closeErr = fmt.Errorf("closing the admin store: %w", err)
			}
		}
		s.rmu.Lock()
		for _, st := range s.rstmts {
			_ = st.Close()
		}
		s.rmu.Unlock()
		s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() {
	if s.rdb != nil {
		_ = s.rdb.Close()
	}
	if s.wdb != nil {
		_ = s.wdb.Close()
	}
	if s.lock != nil {
		_ = syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
		_ = s.lock.Close()
	}
}

// write runs fn as one durable mutation (see writer.submit).
func (s *Store) write(ctx context.Context, fn func(tx *wtx) error) error {
	return s.w.submit(ctx, fn)
}

// rstmt returns a prepared statement on the read pool.
func (s *Store) rstmt(ctx context.Context, q string) (*sql.Stmt, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if st, ok := s.rstmts[q]; ok {
		return st, nil
	}
	st, err := s.rdb.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("preparing %q: %w", firstWords(q), err)
	}
	s.rstmts[q] = st
	return st, nil
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := s.rstmt(ctx, q)
	if err != nil {
		return s.rdb.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.rstmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// txQuery runs a cached prepared statement inside a read transaction.
func (s *Store) txQuery(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	st, err := s.rstmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

// readTx runs fn in one read transaction, so several queries see one
// snapshot.
func (s *Store) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("starting a read: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }
