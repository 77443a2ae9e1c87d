package proxystate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go

	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

// EventSink records one proxy decision; the log assigns seq and timestamp.
type EventSink interface {
	Record(ev netstate.Event)
}

// Event log bounds and defaults.
const (
	DefaultKeepEvents   = 10000
	MaxEventsPage       = 1000
	defaultQueueSize    = 4096
	defaultMaxBatch     = 512
	defaultRecordWait   = 5 * time.Second
	eventsSchemaVersion = 1
)

// EventLogOptions tunes an EventLog; zero values take the defaults.
type EventLogOptions struct {
	Now Clock
	// Keep is how many newest events are kept (default 10,000).
	Keep int
	// QueueSize bounds events waiting for the writer (default 4096).
	QueueSize int
	// MaxBatch bounds events per write transaction (default 512).
	MaxBatch int
	// RecordWait is how long Record blocks on a full queue before it
	// gives up on the event, counts it in Dropped and logs an error
	// (default 5s). Blocking is the backpressure; the bound keeps a
	// stuck disk from hanging every proxied request forever.
	RecordWait time.Duration
	Logger     zerolog.Logger
}

// EventLog is the proxy's decision log: a SQLite database in WAL mode
// with synchronous=NORMAL, written by one goroutine in batched
// transactions. NORMAL means a power loss (not a process crash) can lose
// the last few committed batches; the log is an audit trail of decisions
// already enforced, so that trade buys hot-path speed without risking
// corruption. seq is AUTOINCREMENT: never reused, even across restarts
// and pruning. Only the newest Keep events are kept; every batch prunes.
type EventLog struct {
	db   *sql.DB // the writer's single connection
	rdb  *sql.DB // readers
	opts EventLogOptions
	log  zerolog.Logger

	closeMu sync.RWMutex
	closed  bool
	q       chan netstate.Event
	flushQ  chan chan struct{}
	stop    chan struct{}
	done    chan struct{}

	dropped atomic.Int64
}

const eventsSchema = `
CREATE TABLE IF NOT EXISTS network_events (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	ts       INTEGER NOT NULL,
	protocol TEXT NOT NULL,
	method   TEXT NOT NULL,
	host     TEXT NOT NULL,
	port     INTEGER NOT NULL,
	path     TEXT NOT NULL,
	query    TEXT NOT NULL,
	decision TEXT NOT NULL,
	reason   TEXT NOT NULL
);`

// OpenEventLog opens (creating if needed) the event log at path and starts
// its writer; Close stops it.
func OpenEventLog(ctx context.Context, path string, opts EventLogOptions) (*EventLog, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Keep <= 0 {
		opts.Keep = DefaultKeepEvents
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = defaultQueueSize
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = defaultMaxBatch
	}
	if opts.RecordWait <= 0 {
		opts.RecordWait = defaultRecordWait
	}
	db, err := sql.Open("sqlite", path+"?_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL")
	if err != nil {
		return nil, fmt.Errorf("open network event log: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	if err := migrateEvents(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("network event log %s: %w", path, err)
	}
	rdb, err := openEventReaderDB(path)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	l := &EventLog{
		db: db, rdb: rdb, opts: opts,
		log:    opts.Logger.With().Str(logging.FieldComponent, "network-event-log").Logger(),
		q:      make(chan netstate.Event, opts.QueueSize),
		flushQ: make(chan chan struct{}),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go l.run()
	return l, nil
}

func openEventReaderDB(path string) (*sql.DB, error) {
	rdb, err := sql.Open("sqlite", path+"?_busy_timeout=10000&_query_only=1")
	if err != nil {
		return nil, fmt.Errorf("open network event log for reading: %w", err)
	}
	rdb.SetMaxOpenConns(4)
	return rdb, nil
}

// migrateEvents creates the schema on a fresh file and refuses a newer one.
func migrateEvents(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case v > eventsSchemaVersion:
		return fmt.Errorf("schema version %d but this hostd understands only up to %d; upgrade hostd (the file is left untouched): %w",
			v, eventsSchemaVersion, ErrNewerSchema)
	case v == eventsSchemaVersion:
		return nil
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin schema creation: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, eventsSchema); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", eventsSchemaVersion)); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit schema: %w", err)
	}
	return nil
}

// Record queues one decision, stamped with ev.Timestamp when the caller
// set it (the decision time), else now. It blocks while the queue is full (up to
// RecordWait); an event that cannot be queued in time, or arrives after
// Close, is counted in Dropped and logged, never lost silently.
func (l *EventLog) Record(ev netstate.Event) {
	if ev.Timestamp.IsZero() { // else the caller's decision time is kept
		ev.Timestamp = l.opts.Now()
	}
	ev.Timestamp = ev.Timestamp.UTC()
	ev = capEvent(ev)
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		l.drop(1, "event log is closed")
		return
	}
	select {
	case l.q <- ev:
		return
	default:
	}
	t := time.NewTimer(l.opts.RecordWait)
	defer t.Stop()
	select {
	case l.q <- ev:
	case <-t.C:
		l.drop(1, "event queue stayed full")
	}
}

func (l *EventLog) drop(n int, why string) {
	total := l.dropped.Add(int64(n))
	l.log.Error().Int("events", n).Int64("dropped_total", total).Str(logging.FieldReason, why).
		Msg("network events not recorded")
}

// Dropped is how many events could not be recorded.
func (l *EventLog) Dropped() int64 { return l.dropped.Load() }

// Flush waits until every event queued before the call is committed.
func (l *EventLog) Flush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case l.flushQ <- ack:
	case <-l.done:
		return errors.New("network event log is closed")
	case <-ctx.Done():
		return fmt.Errorf("flush network events: %w", ctx.Err())
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush network events: %w", ctx.Err())
	}
}

// Close stops accepting events, writes what is queued and closes the
// database.
func (l *EventLog) Close() error {
	l.closeMu.Lock()
	already := l.closed
	l.closed = true
	l.closeMu.Unlock()
	if already {
		<-l.done
		return nil
	}
	close(l.stop)
	<-l.done
	return errors.Join(l.rdb.Close(), l.db.Close())
}

// run is the writer goroutine; Close stops it.
func (l *EventLog) run() {
	defer close(l.done)
	batch := make([]netstate.Event, 0, l.opts.MaxBatch)
	for {
		select {
		case ev := <-l.q:
			batch = l.fill(append(batch[:0], ev))
			l.write(batch)
		case ack := <-l.flushQ:
			l.drain(batch)
			close(ack)
		case <-l.stop:
			l.drain(batch)
			return
		}
	}
}

// fill adds already-queued events to batch without waiting.
func (l *EventLog) fill(batch []netstate.Event) []netstate.Event {
	for len(batch) < l.opts.MaxBatch {
		select {
		case ev := <-l.q:
			batch = append(batch, ev)
		default:
			return batch
		}
	}
	return batch
}

// drain writes everything queued right now.
func (l *EventLog) drain(batch []netstate.Event) {
	for {
		batch = l.fill(batch[:0])
		if len(batch) == 0 {
			return
		}
		l.write(batch)
	}
}

// write commits one batch, retrying once; a batch that still fails is
// counted as dropped and logged.
func (l *EventLog) write(batch []netstate.Event) {
	err := l.writeOnce(batch)
	if err == nil {
		return
	}
	time.Sleep(50 * time.Millisecond)
	if err = l.writeOnce(batch); err != nil {
		l.log.Error().Err(err).Msg("writing network events failed")
		l.drop(len(batch), "write failed")
	}
}

func (l *EventLog) writeOnce(batch []netstate.Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO network_events
		(ts, protocol, method, host, port, path, query, decision, reason) VALUES (?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer stmt.Close()
	for _, ev := range batch {
		if _, err := stmt.ExecContext(ctx, ev.Timestamp.UnixNano(), ev.Protocol, ev.Method, ev.Host, ev.Port,
			ev.Path, ev.Query, ev.Decision, ev.Reason); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
	}
	// Keep the newest Keep rows: delete everything at or below the seq
	// just past them (NULL, deleting nothing, while there are fewer).
	if _, err := tx.ExecContext(ctx, `DELETE FROM network_events WHERE seq <=
		(SELECT seq FROM network_events ORDER BY seq DESC LIMIT 1 OFFSET ?)`, l.opts.Keep); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Events returns up to limit events with seq > since, oldest first.
// Events still queued are not yet visible (Flush first to see them).
func (l *EventLog) Events(ctx context.Context, since int64, limit int) ([]netstate.Event, error) {
	return queryEvents(ctx, l.rdb, since, limit)
}

// Count is how many events are stored.
func (l *EventLog) Count(ctx context.Context) (int, error) {
	var n int
	err := l.rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM network_events").Scan(&n)
	return n, err
}

func checkPage(since int64, limit int) error {
	if since < 0 {
		return fmt.Errorf("since must be >= 0, got %d", since)
	}
	if limit < 1 || limit > MaxEventsPage {
		return fmt.Errorf("limit must be 1..%d, got %d", MaxEventsPage, limit)
	}
	return nil
}

func queryEvents(ctx context.Context, db *sql.DB, since int64, limit int) ([]netstate.Event, error) {
	if err := checkPage(since, limit); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT seq, ts, protocol, method, host, port, path, query, decision, reason
		FROM network_events WHERE seq > ? ORDER BY seq LIMIT ?`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("query network events: %w", err)
	}
	defer rows.Close()
	out := []netstate.Event{}
	for rows.Next() {
		var ev netstate.Event
		var ts int64
		if err := rows.Scan(&ev.Seq, &ts, &ev.Protocol, &ev.Method, &ev.Host, &ev.Port, &ev.Path, &ev.Query, &ev.Decision, &ev.Reason); err != nil {
			return nil, fmt.Errorf("read network event: %w", err)
		}
		ev.Timestamp = time.Unix(0, ts).UTC()
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read network events: %w", err)
	}
	return out, nil
}
