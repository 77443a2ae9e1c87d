package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
)

// ErrClosed is returned for calls made after Close.
var ErrClosed = errors.New("admin store is closed")

// Op states: a caller may abandon an op only before the writer takes it,
// so an error from write always means the mutation was not applied.
const (
	opWaiting int32 = iota
	opTaken
	opAbandoned
)

type op struct {
	fn    func(tx *wtx) error
	state atomic.Int32
	done  chan error
}

// writer is the single goroutine that owns the write connection. It takes
// every mutation waiting when it becomes free and commits them together:
// one fsync for the whole group (group commit).
type writer struct {
	conn     *sql.Conn
	stmts    map[string]*sql.Stmt
	maxBatch int
	ops      chan *op // unbuffered: a send succeeds only into a running writer
	stop     chan struct{}
	stopped  chan struct{}
	// afterCommit runs on the writer goroutine after each successful
	// commit; events reports whether the batch appended agent events.
	afterCommit    func(events bool)
	nBatches, nOps atomic.Int64 // committed batches and the ops in them

	// beforeCommit runs inside the batch transaction after its ops; a
	// failure fails the batch.
	beforeCommit func(tx *wtx, events bool) error
}

func newWriter(conn *sql.Conn, maxBatch int) *writer {
	return &writer{
		conn:     conn,
		stmts:    make(map[string]*sql.Stmt),
		maxBatch: maxBatch,
		ops:      make(chan *op),
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
}

// submit runs fn in a write transaction and returns after it committed (or
// failed). If ctx ends before the writer took the op, the op is dropped and
// ctx's error returned; once taken it always runs to its end.
func (w *writer) submit(ctx context.Context, fn func(tx *wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{fn: fn, done: make(chan error, 1)}
	select {
	case w.ops <- o:
	case <-w.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-o.done:
		return err
	case <-ctx.Done():
		if o.state.CompareAndSwap(opWaiting, opAbandoned) {
			return ctx.Err()
		}
		// The writer holds it; it finishes within one batch.
		return <-o.done
	}
}

func (w *writer) run() {
	defer close(w.stopped)
	batch := make([]*op, 0, w.maxBatch)
	for {
		select {
		case o := <-w.ops:
			batch = append(batch[:0], o)
		case <-w.stop:
			return
		}
	collect:
		for len(batch) < w.maxBatch {
			select {
			case o := <-w.ops:
				batch = append(batch, o)
			default:
				break collect
			}
		}
		w.runBatch(batch)
		clear(batch)
	}
}

// runBatch commits the batch's ops in one transaction, each inside its own
// savepoint so a failing op rolls back alone.
func (w *writer) runBatch(batch []*op) {
	ctx := context.Background()
	results := make([]error, len(batch))
	taken := make([]bool, len(batch))
	for i, o := range batch {
		taken[i] = o.state.CompareAndSwap(opWaiting, opTaken)
	}
	finish := func() {
		for i, o := range batch {
			if taken[i] {
				o.done <- results[i]
			}
		}
	}
	ctl := &wtx{ctx: ctx, w: w} // transaction control through cached statements
	failAll := func(err error) {
		_, _ = ctl.exec("ROLLBACK")
		for i := range results {
			if results[i] == nil {
				results[i] = err
			}
		}
		finish()
	}
	if _, err := ctl.exec("BEGIN IMMEDIATE"); err != nil {
		for i := range results {
			results[i] = fmt.Errorf("starting a write transaction: %w", err)
		}
		finish()
		return
	}
	events := false
	for i, o := range batch {
		if !taken[i] {
			continue
		}
		if _, err := ctl.exec("SAVEPOINT op"); err != nil {
			failAll(fmt.Errorf("opening a savepoint: %w", err))
			return
		}
		tx := &wtx{ctx: ctx, w: w}
		err := runOp(o.fn, tx)
		if err != nil {
			results[i] = err
			if _, rerr := ctl.exec("ROLLBACK TO op"); rerr != nil {
				failAll(fmt.Errorf("rolling back a failed mutation: %w", rerr))
				return
			}
		}
		if _, err := ctl.exec("RELEASE op"); err != nil {
			failAll(fmt.Errorf("releasing a savepoint: %w", err))
			return
		}
		if err == nil && tx.events {
			events = true
		}
	}
	if w.beforeCommit != nil {
		if err := w.beforeCommit(ctl, events); err != nil {
			failAll(fmt.Errorf("bounding the event log: %w", err))
			return
		}
	}
	if _, err := ctl.exec("COMMIT"); err != nil {
		failAll(fmt.Errorf("committing: %w", err))
		return
	}
	w.nBatches.Add(1)
	w.nOps.Add(int64(len(batch)))
	finish()
	if w.afterCommit != nil {
		w.afterCommit(events)
	}
}

// runOp calls fn, turning a panic into an error so one bad mutation cannot
// take the writer (and every later caller) down.
func runOp(fn func(tx *wtx) error, tx *wtx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error in a store mutation: %v", r)
		}
	}()
	return fn(tx)
}

func (w *writer) close() {
	close(w.stop)
	<-w.stopped
	for _, st := range w.stmts {
		_ = st.Close()
	}
}

// wtx is what a mutation sees: statements on the writer's connection
// inside the current transaction.
type wtx struct {
	ctx    context.Context
	w      *writer
	events bool // set when the op appended an agent event
}

func (tx *wtx) stmt(q string) (*sql.Stmt, error) {
	if st, ok := tx.w.stmts[q]; ok {
		return st, nil
	}
	st, err := tx.w.conn.PrepareContext(tx.ctx, q)
	if err != nil {
		return nil, fmt.Errorf("preparing %q: %w", firstWords(q), err)
	}
	tx.w.stmts[q] = st
	return st, nil
}

func (tx *wtx) exec(q string, args ...any) (sql.Result, error) {
	st, err := tx.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(tx.ctx, args...)
}

// execN runs q and returns the number of rows it changed.
func (tx *wtx) execN(q string, args ...any) (int64, error) {
	res, err := tx.exec(q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (tx *wtx) queryRow(q string, args ...any) *sql.Row {
	st, err := tx.stmt(q)
	if err != nil {
		// Surface the prepare error through Scan.
		return tx.w.conn.QueryRowContext(tx.ctx, q, args...)
	}
	return st.QueryRowContext(tx.ctx, args...)
}

func (tx *wtx) query(q string, args ...any) (*sql.Rows, error) {
	st, err := tx.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(tx.ctx, args...)
}

func firstWords(q string) string {
	if len(q) > 40 {
		return q[:40] + "…"
	}
	return q
}
