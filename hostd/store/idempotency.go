package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// IdempotencyRecord is a stored Idempotency-Key record. (The admin API's
// adminapi.IdempotencyRecord has the same fields; package
// store/adminstore adapts between the two.)
type IdempotencyRecord struct {
	Key       string
	Method    string
	Path      string
	Done      bool
	Status    int
	Body      []byte
	CreatedAt time.Time
}

// ErrNoReservation is returned when finishing a key that is not reserved.
var ErrNoReservation = errors.New("no idempotency reservation for this key")

// Reservations of requests still running live in memory only: they would
// be dropped at the next start anyway (a restart ends every request), so
// writing them durably would only add a commit wait to every mutating
// request. Finished responses are written durably by FinishIdempotent.

// BeginIdempotent reserves key for (method, path) at now. A reservation
// still running, or a finished record created after now-TTL, is returned
// with existing=true and nothing changes; an older record is replaced
// when the new request finishes.
func (s *Store) BeginIdempotent(ctx context.Context, key, method, path string, now time.Time) (rec IdempotencyRecord, existing bool, err error) {
	// Held across the read so a FinishIdempotent racing this call is seen
	// either as its reservation or as its committed record.
	s.idemMu.Lock()
	defer s.idemMu.Unlock()
	if r, ok := s.inflight[key]; ok {
		return r, true, nil
	}
	var r IdempotencyRecord
	var created int64
	err = s.queryRow(ctx, `SELECT method, path, status, body, created_at FROM idempotency WHERE key = ?`, key).
		Scan(&r.Method, &r.Path, &r.Status, &r.Body, &created)
	switch {
	case err == nil && created > nanos(now.Add(-s.lim.IdempotencyTTL)):
		r.Key, r.Done, r.CreatedAt = key, true, fromNanos(created)
		if r.Body == nil {
			r.Body = []byte{} // an empty response body reads back as NULL
		}
		return r, true, nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return IdempotencyRecord{}, false, fmt.Errorf("reading idempotency key: %w", err)
	}
	rec = IdempotencyRecord{Key: key, Method: method, Path: path, CreatedAt: fromNanos(nanos(now))}
	s.inflight[key] = rec
	return rec, false, nil
}

// FinishIdempotent durably stores the first response for a reserved key.
func (s *Store) FinishIdempotent(ctx context.Context, key string, status int, body []byte) error {
	s.idemMu.Lock()
	r, ok := s.inflight[key]
	s.idemMu.Unlock()
	if !ok {
		return ErrNoReservation
	}
	if body == nil {
		body = []byte{}
	}
	if r.Done && r.Status == status && bytes.Equal(r.Body, body) {
		// Already committed with the mutation itself (answerInTx).
		s.idemMu.Lock()
		delete(s.inflight, key)
		s.idemMu.Unlock()
		return nil
	}
	r.Status, r.Body = status, body
	err := s.write(ctx, func(tx *wtx) error { return putIdempotent(tx, r) })
	if err != nil {
		return err // still reserved: the caller may retry or abort
	}
	s.idemMu.Lock()
	delete(s.inflight, key)
	s.idemMu.Unlock()
	return nil
}

func putIdempotent(tx *wtx, r IdempotencyRecord) error {
	if _, err := tx.exec(`INSERT INTO idempotency (key, method, path, done, status, body, created_at)
		VALUES (?, ?, ?, 1, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET method = excluded.method, path = excluded.path,
			done = 1, status = excluded.status, body = excluded.body, created_at = excluded.created_at`,
		r.Key, r.Method, r.Path, r.Status, r.Body, nanos(r.CreatedAt)); err != nil {
		return fmt.Errorf("storing the response for an idempotency key: %w", err)
	}
	return nil
}

// answerInTx is how a mutation stores the answer to its request inside
// its own transaction (tasks.WithAnswer): prepare returns the
// reservation to answer, or ok=false when ctx asks for nothing or the key
// is not reserved here; after the commit, done marks the reservation
// answered so FinishIdempotent with the same answer needs no second
// commit, and a concurrent replay is served the committed answer.
type answerInTx struct {
	s   *Store
	fn  tasks.AnswerFunc
	rec IdempotencyRecord
}

func (s *Store) prepareAnswer(ctx context.Context) (*answerInTx, bool) {
	key, fn, ok := tasks.AnswerFrom(ctx)
	if !ok {
		return nil, false
	}
	s.idemMu.Lock()
	rec, ok := s.inflight[key]
	s.idemMu.Unlock()
	if !ok || rec.Done {
		return nil, false
	}
	return &answerInTx{s: s, fn: fn, rec: rec}, true
}

// write renders the answer for t and stores it in tx.
func (a *answerInTx) write(tx *wtx, t tasks.Task) error {
	status, body, err := a.fn(t)
	if err != nil {
		return fmt.Errorf("rendering the answer to store with the task: %w", err)
	}
	if body == nil {
		body = []byte{}
	}
	a.rec.Done, a.rec.Status, a.rec.Body = true, status, body
	return putIdempotent(tx, a.rec)
}

// writeAnswered runs a task mutation in one transaction and, when ctx
// carries tasks.WithAnswer for a key reserved here, stores the answer to
// its request in the same commit.
func (s *Store) writeAnswered(ctx context.Context, fn func(tx *wtx) (tasks.Task, error)) (tasks.Task, error) {
	answer, withAnswer := s.prepareAnswer(ctx)
	var task tasks.Task
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		task, err = fn(tx)
		if err != nil || !withAnswer {
			return err
		}
		return answer.write(tx, task)
	})
	if err != nil {
		return tasks.Task{}, err
	}
	if withAnswer {
		answer.done()
	}
	return task, nil
}

// done runs after the commit.
func (a *answerInTx) done() {
	a.s.idemMu.Lock()
	defer a.s.idemMu.Unlock()
	if cur, ok := a.s.inflight[a.rec.Key]; ok && !cur.Done {
		a.s.inflight[a.rec.Key] = a.rec
	}
}

// AbortIdempotent drops a reservation that has no response yet. A finished
// record is kept.
func (s *Store) AbortIdempotent(ctx context.Context, key string) error {
	s.idemMu.Lock()
	delete(s.inflight, key)
	s.idemMu.Unlock()
	return nil
}

// InFlightIdempotent counts reservations whose request has not finished.
func (s *Store) InFlightIdempotent() int {
	s.idemMu.Lock()
	defer s.idemMu.Unlock()
	return len(s.inflight)
}
